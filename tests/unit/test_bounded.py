"""Safe and bounded: redaction, control characters, permissions, paging limits, messages."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import ssl
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from atria_tui.adapters import paging
from atria_tui.adapters.connectwise import ConnectWiseAdapter
from atria_tui.adapters.http import ClientOptions
from atria_tui.adapters.kaseya import KaseyaAdapter
from atria_tui.adapters.kaseya_routes import V2
from atria_tui.adapters.paging import Deadline
from atria_tui.cli import main as cli
from atria_tui.core.model import Level, LogEntry, printable
from atria_tui.core.paths import db_path
from atria_tui.engine.secret_store import env_name, redact
from atria_tui.engine.store import Store
from atria_tui.job.file import load_job
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox import kaseya
from atria_tui.sandbox.connectwise import create_app as cw_app
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS as CW_DEMO
from atria_tui.sandbox.connectwise.state import CwState
from atria_tui.sandbox.kaseya.state import DEMO_SECRETS as KS_DEMO
from atria_tui.sandbox.server import shared
from atria_tui.services.engine import plan_job
from tests.sandbox_helpers import ks_state
from tests.support import runtime

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
KS_CONTRACTS = V2["contracts"].path


def demo_job(tmp_path: Path, name: str = "job", *, source: Path | None = None,
             extra: str = "", **params: str) -> Path:
    """The ConnectWise demo job on the embedded sandbox, with parameters replaced."""
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    billing = source or SAMPLES / "demo-connectwise-billing.csv"
    text = text.replace('path = "demo-connectwise-billing.csv"', f'path = "{billing}"')
    for key, value in params.items():
        text = "\n".join(f'{key} = "{value}"' if ln.startswith(f"{key} =") else ln
                         for ln in text.splitlines()) + "\n"
    path = tmp_path / f"{name}.toml"
    path.write_text(text + extra)
    return path


def test_redact_masks_bearer_and_basic_credentials_but_not_product_names() -> None:
    text = ("M365 Business Basic licences; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x; "
            "Basic YXRyaWFfZGVtbytwdWI6cHJpdg==")
    assert redact(text, []) == ("M365 Business Basic licences; Authorization: Bearer ***; "
                                "Basic ***")


# --- control characters ----------------------------------------------------------------------

EVIL = "\x1b]0;pwned\x07\x1b[2J"
RAW = ("\x1b", "\x07", "\x9b", "\r")


def evil_job(tmp_path: Path) -> Path:
    """The ConnectWise demo with a hostile customer name in Atria and hostile agreement
    names and line descriptions in the PSA."""
    billing = (SAMPLES / "demo-connectwise-billing.csv").read_text()
    (tmp_path / "billing.csv").write_text(billing.replace("Acme Services Pty",
                                                          "Acme" + EVIL + "\x9b31m"))
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    text = text.replace('path = "demo-connectwise-billing.csv"',
                        f'path = "{tmp_path / "billing.csv"}"')
    job = tmp_path / "evil.toml"
    job.write_text(text)
    cw = shared().connectwise
    for agreement in cw.agreements.values():
        agreement["name"] = EVIL + str(agreement["name"])
    for addition in cw.additions.values():
        addition["description"] = f"{EVIL}\r{addition.get('description') or ''}"
    return job


def test_control_characters_never_reach_the_terminal_or_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = str(evil_job(tmp_path))
    outputs = []
    for args in (["plan", job], ["plan", job, "--format", "csv"],
                 ["plan", job, "--format", "json"], ["log", "1"],
                 ["log", "1", "--csv", str(tmp_path / "log.csv")], ["apply", job, "--yes"]):
        cli.main(args)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    outputs.append((tmp_path / "log.csv").read_text(encoding="utf-8-sig"))
    # CSV rows end in CRLF, as Excel wants; a CR inside a value must still never get out.
    text = "".join(o.replace("\r\n", "\n") for o in outputs)
    assert "pwned" in text and "Acme\N{REPLACEMENT CHARACTER}]0;pwned" in text
    for raw in RAW:
        assert raw not in text
    store = Store(db_path())
    stored = [e.message for r in store.runs(None, 10) for e in store.log(r.id)]
    assert any("pwned" in m for m in stored)
    assert not any(raw in m for m in stored for raw in RAW)


def test_printable_keeps_breaks_only_where_asked() -> None:
    assert printable("a\tb\nc" + EVIL) == "a b c\ufffd]0;pwned\ufffd\ufffd[2J"
    assert printable("a\tb\nc\x00", breaks=True) == "a\tb\nc\ufffd"
    entry = LogEntry("CW02", Level.ERROR, "line one\nline two\x1b[31m")
    assert entry.message == "line one line two\ufffd[31m"


# --- permissions and files that are not billing exports --------------------------------------


def test_database_and_data_folder_are_private(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "fresh" / "home"
    monkeypatch.setenv("ATRIA_TUI_HOME", str(home))
    old = os.umask(0o022)
    try:
        assert cli.main(["plan", str(demo_job(tmp_path))]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    db = home / "atria-tui.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for extra in ("-wal", "-shm"):
        side = Path(f"{db}{extra}")
        assert not side.exists() or stat.S_IMODE(side.stat().st_mode) == 0o600


def test_an_existing_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    Store(db).start_run("j", "J", "connectwise-manage", "plan")
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("content", [
    b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
    b"\x7fELF\x02\x01\x01\x00topsecret\x00\x00\x00,more;secret\n",
    b'{"password": "topsecret", "user": "root:x:0:0"}',
])
def test_a_source_that_is_not_a_billing_file_is_refused_without_its_content(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    private = tmp_path / "private.dat"
    private.write_bytes(content)
    job = demo_job(tmp_path, source=private)
    assert cli.main(["plan", str(job)]) == 2
    out = capsys.readouterr()
    assert "CW03" in out.out and "private.dat" in out.out
    for word in ("nologin", "topsecret", "ELF", "password", "x:0:0"):
        assert word not in out.out + out.err


def test_a_device_or_folder_as_source_is_refused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for source in (Path("/dev/zero"), tmp_path):
        assert cli.main(["plan", str(demo_job(tmp_path, source=source))]) == 2
        out = capsys.readouterr().out
        assert "CW03" in out and "not a folder or device" in out


# --- paging bounds -----------------------------------------------------------------------------


def endless_cw(repeat: bool) -> httpx.MockTransport:
    """A ConnectWise that always has a next page: the same rows again, or new ones."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        first = 1 if repeat else page * 10
        rows = [{"id": first + n, "name": "Hosting and Cloud Services"} for n in range(2)]
        nxt = request.url.copy_set_param("page", str(page + 1))
        return httpx.Response(200, json=rows, headers={"Link": f'<{nxt}>; rel="next"'})

    return httpx.MockTransport(handler)


def cw_adapter(transport: httpx.AsyncBaseTransport, **kw: Any) -> ConnectWiseAdapter:
    return ConnectWiseAdapter("http://cw.test", CW_DEMO, transport=transport,
                              options=ClientOptions(retries=0), **kw)


async def test_connectwise_repeating_page_stops_with_a_decode_error() -> None:
    ad = cw_adapter(endless_cw(repeat=True))
    with pytest.raises(RemoteError) as err:
        await ad.agreement_type_exists("Hosting and Cloud Services")
    await ad.aclose()
    assert err.value.kind == "decode" and "does not advance" in err.value.message
    assert "page 2 repeats" in err.value.message and ad.requests == 2


async def test_connectwise_endless_paging_stops_at_the_page_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 7)
    ad = cw_adapter(endless_cw(repeat=False))
    with pytest.raises(RemoteError) as err:
        await ad.agreement_type_exists("Hosting and Cloud Services")
    await ad.aclose()
    assert err.value.kind == "decode" and "passed 7 pages" in err.value.message
    assert ad.requests == 7


async def test_connectwise_paging_stops_at_the_deadline() -> None:
    now = [0.0]
    deadline = Deadline.after(1, clock=lambda: now[0])

    def handler(request: httpx.Request) -> httpx.Response:
        now[0] += 45  # each page takes 45 s of the fake clock
        return endless_cw(repeat=False).handler(request)  # type: ignore[attr-defined]

    ad = cw_adapter(httpx.MockTransport(handler), deadline=deadline)
    with pytest.raises(RemoteError) as err:
        await ad.agreement_type_exists("Hosting and Cloud Services")
    await ad.aclose()
    assert err.value.kind == "timeout" and "deadline of 1 minute(s)" in err.value.message
    assert "run_deadline_minutes" in err.value.message and ad.requests == 2


class KsRewrite(httpx.AsyncBaseTransport):
    """The Kaseya emulator, with the contracts summary answered by `rewrite`."""

    def __init__(self, rewrite: Callable[[int, dict[str, Any]], dict[str, Any]]) -> None:
        self.inner = httpx.ASGITransport(app=kaseya.create_app(ks_state()))
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if not request.url.path.endswith(KS_CONTRACTS):
            return resp
        await resp.aread()
        page = int(request.url.params.get("PageNumber", "1"))
        return httpx.Response(200, json=self.rewrite(page, json.loads(resp.content)))


def ks_adapter(rewrite: Callable[[int, dict[str, Any]], dict[str, Any]]) -> KaseyaAdapter:
    return KaseyaAdapter("http://ks.test", KS_DEMO, transport=KsRewrite(rewrite), page_size=2,
                         options=ClientOptions(retries=0))


async def test_kaseya_repeating_page_without_total_stops() -> None:
    first: list[dict[str, Any]] = []

    def same_page(number: int, body: dict[str, Any]) -> dict[str, Any]:
        body.pop("totalRecords", None)
        if not first:
            first.append(body)
        return first[0]

    ad = ks_adapter(same_page)
    with pytest.raises(RemoteError) as err:
        await ad.contracts("Recurring Services")
    await ad.aclose()
    assert err.value.kind == "decode" and "page 2 repeats" in err.value.message


async def test_kaseya_total_past_the_page_cap_reads_nothing_more(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)

    def huge_total(number: int, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "totalRecords": 999_999}  # a record count, but past 50 pages

    ad = ks_adapter(huge_total)
    with pytest.raises(RemoteError) as err:
        await ad.contracts("Recurring Services")
    requests = ad.requests
    await ad.aclose()
    assert err.value.kind == "decode" and "passed 50 pages" in err.value.message
    assert requests == 2  # the login and the first page


async def test_run_deadline_option_ends_the_run_with_a_clear_message(tmp_path: Path) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 20.0  # every look at the clock is 20 s later
        return now[0]

    job = load_job(demo_job(tmp_path, extra="run_deadline_minutes = 1\n"))
    assert job.options.run_deadline_minutes == 1
    svc = runtime(clock=clock)
    res = await plan_job(svc, job)
    assert [e.code for e in res.entries][-2:] == ["CW02", "CW23"] and res.exit_code == 2
    assert "deadline of 1 minute(s) passed while reading GET /" in res.entries[-2].message


# --- messages ------------------------------------------------------------------------------


def test_plan_as_csv_says_why_the_run_ended_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", str(demo_job(tmp_path, BillingPeriod="Last")), "--format",
                     "csv"]) == 2
    out = capsys.readouterr()
    assert out.out.startswith("\ufeffcustomer_code,")          # a BOM, as the console's
    assert "atria-tui: CW19 Incorrect billing period date or format" in out.err
    assert "run 1: Failed" in out.err
    assert cli.main(["plan", str(demo_job(tmp_path)), "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert "run 2: Completed with errors" in out.err and "CW" not in out.err


def test_piped_log_lines_are_never_wrapped(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    long_name = "Acme " + "Very Long Name " * 30
    billing = (SAMPLES / "demo-connectwise-billing.csv").read_text()
    (tmp_path / "b.csv").write_text(billing.replace("Ujala Traders", long_name.strip()))
    cli.main(["plan", str(demo_job(tmp_path, source=tmp_path / "b.csv"))])
    capsys.readouterr()
    cli.main(["log", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 20
    assert all(re.match(r"[0-9-]{10} [0-9]{2}:[0-9]{2}:[0-9]{2} \S+ (Verbose|Info|Warning|Error) ",
                        ln)
               for ln in lines), lines
    (ujala,) = [ln for ln in lines if " CW04 UJA " in ln]
    assert long_name.strip() in ujala and len(ujala) > 400


@pytest.mark.parametrize("task", ["connectwise", "kaseya"])
def test_a_bad_billing_period_names_the_value_and_the_job_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str) -> None:
    if task == "kaseya":
        text = (SAMPLES / "demo-kaseya.toml").read_text()
        text = re.sub(r'BillingPeriod = ".*"', 'BillingPeriod = "Last month"', text)
        text = text.replace('path = "demo-kaseya-billing.csv"',
                            f'path = "{SAMPLES / "demo-kaseya-billing.csv"}"')
        job = tmp_path / "ks.toml"
        job.write_text(text)
    else:
        job = demo_job(tmp_path, BillingPeriod="Last month")
    assert cli.main(["plan", str(job)]) == 2
    out = capsys.readouterr().out
    seed = ("CW19 Incorrect billing period date or format" if task == "connectwise"
            else "KS10 Incorrect billing period date or format recognized.")
    (line,) = [ln for ln in out.splitlines() if seed in ln]
    assert "'Last month'" in line and str(job) in line


@pytest.mark.parametrize("url", ["ftp://psa.example.com/v4_6_release/apis/3.0",
                                 "file:///etc/passwd", "psa.example.com/v4_6_release"])
def test_a_non_http_api_url_is_refused_at_once(tmp_path: Path, url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", str(demo_job(tmp_path, ApiUrl=url))]) == 2
    out = capsys.readouterr().out
    assert f"CW13 Failed to Deserialize object: Error reported was: ApiUrl '{url}'" in out
    assert "https://" in out and "(0 PSA request(s))" in out


@pytest.fixture
def tls_port(tmp_path: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 with a throwaway self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), conn, ctx.wrap_socket(conn,
                                                                   server_side=True) as tls:
                tls.recv(100)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(srv.getsockname()[1])
    stop.set()
    srv.close()


def test_http_to_a_tls_port_says_use_https(tmp_path: Path, tls_port: int,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in CW_DEMO.items():
        monkeypatch.setenv(env_name(name), value)
    url = f"http://127.0.0.1:{tls_port}/v4_6_release/apis/3.0"
    job = demo_job(tmp_path, ApiUrl=url)
    job.write_text(job.read_text().replace("retries = 2", "retries = 0"))
    assert cli.main(["plan", str(job)]) == 2
    out = capsys.readouterr().out
    assert (f"CW02 Failed to connect to Connectwise: Error reported was : the server at "
            f"127.0.0.1:{tls_port} speaks TLS: use https://") in out


def ticking(start_failing_at: int) -> Deadline:
    """A deadline passed at the `start_failing_at`-th look at a clock that ticks per look."""
    ticks = [0]

    def clock() -> float:
        ticks[0] += 1
        return float(ticks[0])

    return Deadline(float(start_failing_at), 1, clock)


async def test_deadline_during_line_reads_ends_the_snapshot_not_one_contract() -> None:
    # ConnectWise: agreement type, agreements, catalog pass; the first additions read fails.
    cw = ConnectWiseAdapter("http://cw.test", CW_DEMO, deadline=ticking(4),
                            transport=httpx.ASGITransport(app=cw_app(CwState())),
                            options=ClientOptions(retries=0))
    with pytest.raises(RemoteError) as err:
        await cw.snapshot(["AcmeServices", "FaultyCo"], ["M365-BP"],
                          "Hosting and Cloud Services")
    await cw.aclose()
    assert err.value.kind == "timeout" and "/additions" in err.value.message
    # Kaseya: contracts, accounts and services pages pass; the first contract's lines fail.
    ks = KaseyaAdapter("http://ks.test", KS_DEMO, deadline=ticking(6),
                       transport=httpx.ASGITransport(app=kaseya.create_app(ks_state())),
                       options=ClientOptions(retries=0))
    with pytest.raises(RemoteError) as err:
        await ks.snapshot(["ACME01", "FRESH01"], [], "Recurring Services")
    await ks.aclose()
    assert err.value.kind == "timeout" and "services" in err.value.message
