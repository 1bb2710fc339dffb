"""The jobs folder: which files in it are jobs, and a free name for a new one.

One rule for the console's job list, the scheduler and the CLI: `*.toml` files that are
neither a job's saved fixes (`JOB.mappings.toml`) nor an editor's hidden temp file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

MAPPINGS_SUFFIX = ".mappings.toml"


def job_files(folder: Path) -> list[Path]:
    """Job files in `folder`, sorted by name; mappings files and hidden temp files excluded."""
    try:
        candidates = list(folder.glob("*.toml"))
    except OSError:
        return []
    return sorted(p for p in candidates
                  if p.is_file() and not p.name.endswith(MAPPINGS_SUFFIX)
                  and not p.name.startswith("."))


def free_path(folder: Path, label: str, taken: Iterable[str] = ()) -> Path:
    """A new file name in `folder` made from the label, never overwriting a file."""
    stem = re.sub(r"[^a-z0-9]+", "-", label.casefold()).strip("-")[:60].strip("-") or "job"
    used = {t.casefold() for t in taken}
    candidate, number = folder / f"{stem}.toml", 2
    while candidate.exists() or candidate.stem.casefold() in used:
        candidate = folder / f"{stem}-{number}.toml"
        number += 1
    return candidate
