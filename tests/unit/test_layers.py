"""What import-linter (`lint-imports`, in `.ci/run`) cannot see: imports made at run time.

The contracts in pyproject.toml check the static import graph; these tests import the
lower layers in a fresh interpreter and look at what actually got loaded, so a lazy
import of Textual or httpx inside the core would still be caught. And the vendors' paths
and field names live in the adapters (and the emulators) only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "atria_tui"


def modules_of(*packages: str) -> list[str]:
    out = []
    for package in packages:
        folder = PKG / package
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(PKG).with_suffix("").as_posix().replace("/", ".")
            out.append("atria_tui." + rel.removesuffix(".__init__"))
    return out


def loaded(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_core_job_psa_and_engine_load_neither_textual_nor_httpx() -> None:
    lower = modules_of("core", "job", "psa", "engine")
    assert len(lower) > 20
    assert loaded(lower, ("textual", "httpx", "starlette")) == []


def test_the_services_and_the_cli_output_load_no_textual() -> None:
    assert loaded(modules_of("services") + ["atria_tui.cli.output"], ("textual",)) == []


def test_only_adapters_and_sandbox_know_vendor_paths() -> None:
    needles = ("myconnectwise", "/finance/agreements", "/apis/3.0", "/v2/crm", "/v2/finance",
               "accessToken", "agreementStatus")
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith(("adapters/", "sandbox/")):
            continue
        text = path.read_text()
        offenders += [f"{rel}: {n}" for n in needles if n in text]
    assert offenders == []
