"""Print the import arrows between atria_tui's top-level units (with how many imports each).

    python scripts/import_arrows.py [PACKAGE_DIR]

A unit is a top-level module or package of `atria_tui`; every `import`/`from … import` in a
file counts, also those inside functions (import-linter's contracts in pyproject.toml are
the rules; this is the picture).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path


def unit_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "atria_tui" and len(parts) > 1 else None


def arrows(root: Path) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("").as_posix().replace("/", ".")
        source = unit_of(rel.removesuffix(".__init__"))
        if source is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] if node.module != "atria_tui" else [
                    f"atria_tui.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                target = unit_of(name)
                if target and target != source:
                    found[(source, target)] += 1
    return found


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "atria_tui")
    units = sorted(p.stem if p.is_file() else p.name for p in root.iterdir()
                   if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists())
    found = arrows(root)
    print(f"{len(units)} units: {', '.join(units)}")
    print(f"{len(found)} arrows, {sum(found.values())} imports")
    for (a, b), n in sorted(found.items()):
        print(f"  {a} -> {b} ({n})")


if __name__ == "__main__":
    main()
