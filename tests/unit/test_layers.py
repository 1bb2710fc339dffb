"""The layering rules of DEVELOPERS.md, checked on the real import graph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "atria_tui"
CORE = ["model", "codes", "job.file", "job.parameters", "periods", "export", "records",
        "reconcile", "matching", "apply", "store", "serialize", "job.mappings",
        "job.guide_import", "job.form_checks", "job.folder", "paths", "secret_store"]


def test_core_never_imports_textual() -> None:
    code = ("import sys\n" + "".join(f"import atria_tui.{m}\n" for m in CORE)
            + "import atria_tui.services.engine, atria_tui.cli_output\n"
            + "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
            + "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_pure_core_imports_no_http_client() -> None:
    pure = ["model", "codes", "periods", "export", "records", "reconcile", "serialize"]
    code = ("import sys\n" + "".join(f"import atria_tui.{m}\n" for m in pure)
            + "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'textual', 'starlette'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


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


def test_layers_point_down_only() -> None:
    lower = {"model", "codes", "job.file", "job.parameters", "periods", "export", "records",
             "reconcile", "serialize", "job.mappings", "job.guide_import", "paths",
             "secret_store", "apply", "store"}
    offenders = []
    for name in lower:
        tree = ast.parse((PKG / f"{name.replace('.', '/')}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mod = node.module
                if mod.startswith(("atria_tui.services", "atria_tui.screens",
                                   "atria_tui.widgets", "atria_tui.app", "atria_tui.cli")):
                    offenders.append(f"{name} imports {mod}")
    assert offenders == []
