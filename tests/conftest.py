"""Every test runs with its own throwaway home, no OS keyring and a fresh sandbox, in UTC
(local times on screen and in files are then the same on every machine)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("atria-home")
    monkeypatch.setenv("ATRIA_TUI_HOME", str(home))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    for name in ("COMPANYNAME", "PUBLICKEY", "PRIVATEKEY", "CLIENTID", "USERNAME", "PASSWORD",
                 "TENANT", "ATRIATOKEN"):
        monkeypatch.delenv(f"ATRIA_TUI_{name}", raising=False)
    from atria_tui.sandbox.server import reset_shared

    reset_shared()
    yield home
    reset_shared()
