"""This tool's own codes were AT01…AT20 until Autotask became a PSA; the old names still
find them in filters and in a database written before the rename."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from atria_tui.core.codes import CATALOG, current_name
from atria_tui.engine.store import Store


def test_old_names_map_to_tu_and_nothing_else_changes() -> None:
    assert current_name("AT04") == "TU04"
    assert current_name("at17 held") == "TU17 held"
    assert current_name("CW04 KS09 AT2 AT21 MATT01") == "CW04 KS09 AT2 AT21 MATT01"
    assert not any(c.startswith("AT") for c in CATALOG)


def test_an_old_database_shows_old_rows_under_the_new_names(tmp_path: Path) -> None:
    path = tmp_path / "atria.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO runs(job_id,label,task,kind,status,started_at) "
               "VALUES ('j','J','connectwise-manage','apply','Success','2026-01-01')")
    db.execute("INSERT INTO log(run_id,time,level,code,customer,sku,message) "
               "VALUES (1,'2026-01-01T00:00:00+00:00','Warning','AT01','C1','S','m'), "
               "(1,'2026-01-01T00:00:00+00:00','Info','CW07','C1','S','m')")
    db.execute("PRAGMA user_version=0")
    db.commit()
    db.close()
    store = Store(path)
    try:
        codes = [e.code for e in store.log(1)]
    finally:
        store.close()
    assert codes == ["TU01", "CW07"]
