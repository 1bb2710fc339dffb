"""Never bill a customer twice: the CLI against the sandbox through a fault proxy.

Each test asserts the PSA's final state (exact quantities, no extra additions) and the
true number of writes that reached the PSA, counted by the proxy.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CW_API, Cli, Server, cw_job
from tests.fault_proxy import FaultProxy, Rule, wait_for

POSTS = r"/additions$"
PATCHES = r"/additions/\d+$"
ADDS, UPDATES = 2, 16  # the ConnectWise demo plan: 2 additions, 16 quantity changes


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultProxy]:
    with FaultProxy(server.base).running() as p:
        yield p


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory, sandbox: Server
             ) -> dict[tuple[str, str], list[float]]:
    """The sandbox's additions after one clean apply of the demo plan (then reset)."""
    import os

    from tests.e2e.conftest import CW_SECRETS

    tmp = tmp_path_factory.mktemp("clean")
    sandbox.post(CW_API + "/_sandbox/reset")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env.update(ATRIA_TUI_HOME=str(tmp / "home"), ATRIA_TUI_KEYRING="0", **CW_SECRETS)
    res = Cli(tmp / "home", env).run("apply", str(cw_job(tmp, sandbox)), "--yes",
                                     "--approve-all")
    assert res.returncode == 0, res.stderr
    state = sandbox.cw_additions()
    sandbox.post(CW_API + "/_sandbox/reset")
    return state


def job_via(tmp_path: Path, proxy: FaultProxy, server: Server, *, timeout: float = 1.0,
            retries: int = 1) -> str:
    """The demo job pointed at the proxy, with a short timeout so faults show fast."""
    path = cw_job(tmp_path, server)
    text = path.read_text().replace(server.base, proxy.base)
    text = text.replace("retries = 2", f"retries = {retries}\ntimeout_seconds = {timeout}")
    path.write_text(text)
    return str(path)


def codes_of(out: dict[str, object]) -> list[str]:
    return [e["code"] for e in out["log"]]  # type: ignore[index,union-attr]


def last_run(cli: Cli, kind: str = "apply") -> int:
    with sqlite3.connect(cli.home / "atria-tui.db") as db:
        return int(db.execute("SELECT max(id) FROM runs WHERE kind=?", (kind,)).fetchone()[0])


@pytest.mark.parametrize("mode", ["error_after", "drop_after", "slow_after"])
def test_a_post_that_landed_is_never_sent_again(mode: str, tmp_path: Path, server: Server,
                                                cli: Cli, proxy: FaultProxy,
                                                expected: dict[tuple[str, str], list[float]]
                                                ) -> None:
    """A 500 after the POST, a drop after it, an answer past the timeout: the addition
    landed, so a re-read finds it and nothing is sent again."""
    proxy.rules.append(Rule("POST", POSTS, mode, delay=3.0))
    code, out = cli.json("apply", job_via(tmp_path, proxy, server), "--yes", "--approve-all")
    assert server.cw_additions() == expected
    assert proxy.count("POST", POSTS) == ADDS
    assert code == 0, out["log"][-3:]
    assert codes_of(out).count("TU11") == ADDS


def test_a_patch_whose_answer_is_lost_is_confirmed_by_a_re_read(
        tmp_path: Path, server: Server, cli: Cli, proxy: FaultProxy,
        expected: dict[tuple[str, str], list[float]]) -> None:
    proxy.rules.append(Rule("PATCH", PATCHES, "error_after"))
    code, out = cli.json("apply", job_via(tmp_path, proxy, server), "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    assert server.cw_additions() == expected
    assert proxy.count("PATCH", PATCHES) == UPDATES


def test_a_post_refused_before_it_landed_is_sent_once_more(
        tmp_path: Path, server: Server, cli: Cli, proxy: FaultProxy,
        expected: dict[tuple[str, str], list[float]]) -> None:
    """A 5xx is an answer: the PSA is done with the request; the re-read shows it did not
    land, so sending it again cannot double it."""
    proxy.rules.append(Rule("POST", POSTS, "error_before", times=1))
    code, out = cli.json("apply", job_via(tmp_path, proxy, server), "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    assert server.cw_additions() == expected
    assert proxy.count("POST", POSTS) == ADDS


def test_a_psa_that_froze_and_thawed_is_finished_by_the_next_apply(
        tmp_path: Path, server: Server, cli: Cli, proxy: FaultProxy,
        expected: dict[tuple[str, str], list[float]]) -> None:
    """The PSA holds every request past the timeout, then carries them all out. No write
    is sent again blind: either the run stops at once (CW02) and the next apply re-reads
    and finishes (TU05), or the adaptive client's re-reads, queued behind the frozen
    writes, see each write landed (TU11) and the run ends complete. Either way each line
    is written once."""
    proxy.rules.append(Rule("POST", POSTS, "freeze", delay=4.0, times=1))
    job = job_via(tmp_path, proxy, server)
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    if code == 2:
        assert out["log"][-2]["code"] == "CW02" and "apply` again" in out["log"][-2]["message"]
        wait_for(lambda: proxy.frozen_until < time.monotonic())
        time.sleep(0.5)  # the held requests reach the sandbox
        code, out = cli.json("apply", job, "--yes", "--approve-all")
        assert code == 0, out["log"][-3:]
        assert "TU05" in codes_of(out)
    else:
        assert code == 0 and "TU11" in codes_of(out) and "TU10" not in codes_of(out)
    assert server.cw_additions() == expected
    assert proxy.count("POST", POSTS) == ADDS
    assert proxy.count("PATCH", PATCHES) == UPDATES


def test_two_applies_at_once_have_one_writer(tmp_path: Path, server: Server, cli: Cli,
                                             proxy: FaultProxy,
                                             expected: dict[tuple[str, str], list[float]]
                                             ) -> None:
    proxy.rules.append(Rule("PATCH", PATCHES, "slow_after", delay=6, times=1))
    job = job_via(tmp_path, proxy, server, timeout=20)
    first = cli.popen("apply", job, "--yes", "--approve-all")
    try:
        wait_for(lambda: proxy.count("PATCH", PATCHES) > 0)     # mid-apply, holding the lock
        second = cli.run("apply", job, "--yes", "--approve-all")
        assert second.returncode == 1
        assert f"process {first.pid}" in second.stderr and "apply" in second.stderr
        assert "Traceback" not in second.stderr
        runs = cli.run("runs")                       # must not mark the live run interrupted
        assert runs.returncode == 0
        with sqlite3.connect(cli.home / "atria-tui.db") as db:
            statuses = [r[0] for r in db.execute("SELECT status FROM runs WHERE kind='apply'")]
        assert statuses == ["Running"]
    finally:
        assert first.wait(60) == 0, first.stderr.read() if first.stderr else ""
    assert server.cw_additions() == expected
    assert proxy.count("POST", POSTS) == ADDS and proxy.count("PATCH", PATCHES) == UPDATES


def _kill_mid_write(cli: Cli, job: str, proxy: FaultProxy, writes: int) -> None:
    """Start an apply whose writes land but whose answers never come; kill -9 it."""
    proc = cli.popen("apply", job, "--yes", "--approve-all")
    wait_for(lambda: proxy.count("POST", POSTS) + proxy.count("PATCH", PATCHES) >= writes)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_revert_of_a_killed_apply_restores_every_landed_write(
        tmp_path: Path, server: Server, cli: Cli, proxy: FaultProxy,
        expected: dict[tuple[str, str], list[float]]) -> None:
    before = server.cw_additions()
    proxy.rules += [Rule("POST", POSTS, "slow_after", delay=60),
                    Rule("PATCH", PATCHES, "slow_after", delay=60)]
    job = job_via(tmp_path, proxy, server, timeout=120)
    _kill_mid_write(cli, job, proxy, 6)
    assert server.cw_additions() != before                       # writes did land
    proxy.clear()
    run = last_run(cli)
    res = cli.run("revert", str(run), "--yes", "--job", job)
    assert res.returncode == 0, res.stdout + res.stderr
    landed = server.cw_additions()
    assert {k: v for k, v in landed.items() if k in before} == before
    assert all(v == [0] for k, v in landed.items() if k not in before)  # additions zeroed
    # A reverted apply is closed: the next apply plans afresh instead of resuming it.
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    assert "TU05" not in codes_of(out)
    assert server.cw_additions() == expected


def test_a_killed_revert_does_not_break_the_next_apply(
        tmp_path: Path, server: Server, cli: Cli, proxy: FaultProxy,
        expected: dict[tuple[str, str], list[float]]) -> None:
    job = job_via(tmp_path, proxy, server, timeout=120)
    code, _ = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0
    applied = last_run(cli)
    proxy.rules.append(Rule("PATCH", PATCHES, "slow_after", delay=60))
    proc = cli.popen("revert", str(applied), "--yes", "--job", job)
    wait_for(lambda: proxy.count("PATCH", PATCHES) >= UPDATES + 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proxy.clear()
    code, out = cli.json("apply", job, "--yes", "--approve-all")        # no "stored plan missing"
    assert code == 0, out["log"][-3:]
    assert "TU05" not in codes_of(out)
    assert server.cw_additions() == expected
    res = cli.run("revert", str(applied), "--yes", "--job", job, "--format", "json")
    assert res.returncode == 0


def test_kaseya_unit_changes_whose_answers_are_lost_land_once(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    from tests.e2e.conftest import KS_API, ks_job, ks_units

    clean = ks_cli.json("apply", str(ks_job(tmp_path, ks_server, "clean",
                                            options={"retries": 1})), "--yes",
                        "--approve-all")
    assert clean[0] == 2                                   # the demo's one faulty line
    expected_units = ks_units(ks_server)
    ks_server.post(KS_API + "/_sandbox/reset")
    with FaultProxy(ks_server.base).running() as proxy:
        proxy.rules.append(Rule("PUT", r"/services/\d+$", "error_after"))
        job = ks_job(tmp_path, ks_server, options={"retries": 1, "timeout_seconds": 2})
        job.write_text(job.read_text().replace(ks_server.base, proxy.base))
        code, out = ks_cli.json("apply", str(job), "--yes", "--approve-all")
        assert code == 2 and [e["code"] for e in out["log"]].count("KS08") == 1
        assert ks_units(ks_server) == expected_units
        changed = sum(1 for i in out["items"] if i["action"] in ("update", "zero"))
        assert proxy.count("PUT", r"/services/\d+$") == changed + 1  # the faulty line twice
