"""The write-only secret store: encrypted at rest, env overrides, values never shown."""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import stat
from pathlib import Path

import pytest

from atria_tui.core import paths
from atria_tui.engine.secret_store import SecretError, Secrets, SecretStore, redact

VALUE = "pr1v4te-K3y-value"
NAMES = ("CompanyName", "PublicKey", "PrivateKey", "ClientId")


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    for name in NAMES:
        monkeypatch.delenv(f"ATRIA_TUI_{name.upper()}", raising=False)


@pytest.fixture
def store() -> SecretStore:
    return SecretStore()


def test_paths_follow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.data_dir() == tmp_path / "home"
    assert paths.config_dir() == tmp_path / "home" / "jobs"
    assert paths.db_path() == tmp_path / "home" / "atria-tui.db"
    monkeypatch.delenv("ATRIA_TUI_HOME")
    assert paths.data_dir().name == "atria-tui"
    assert paths.config_dir().name == "jobs"


def test_round_trip_and_replace(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", "first")
    store.set("cw", "PrivateKey", VALUE)  # typing replaces
    store.set("cw", "CompanyName", "acme")
    store.set("ks", "Password", "other-job")
    assert store.root == paths.data_dir()
    assert store.names_set("cw") == {"PrivateKey", "CompanyName"}
    resolved = SecretStore().resolve("cw", NAMES, env={})  # a fresh instance reads the file
    assert dict(resolved) == {"CompanyName": "acme", "PrivateKey": VALUE}
    assert list(resolved) == ["CompanyName", "PrivateKey"]  # in the order asked for


def test_clear_and_forget(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", VALUE)
    store.set("cw", "PublicKey", "pub-key")
    store.clear("cw", "privatekey")
    assert store.names_set("cw") == {"PublicKey"}
    store.set("cw", "PublicKey", "")  # an empty entry clears
    assert store.names_set("cw") == set()
    store.set("cw", "ClientId", "cid-1")
    store.forget("cw")
    assert store.names_set("cw") == set() and store.resolve("cw", NAMES, env={}) == {}


def test_env_overrides_store(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", VALUE)
    env = {"ATRIA_TUI_PRIVATEKEY": "from-env", "ATRIA_TUI_CLIENTID": "cid-env"}
    assert dict(store.resolve("cw", NAMES, env=env)) == {"PrivateKey": "from-env",
                                                         "ClientId": "cid-env"}


def test_env_defaults_to_os_environ(store: SecretStore, monkeypatch: pytest.MonkeyPatch
                                    ) -> None:
    monkeypatch.setenv("ATRIA_TUI_COMPANYNAME", "acme-env")
    assert dict(store.resolve("cw", NAMES)) == {"CompanyName": "acme-env"}


def test_env_alone_needs_no_store_even_a_broken_one(store: SecretStore) -> None:
    store.root.mkdir(parents=True)
    store.store_path.write_text("{ not json")
    env = {"ATRIA_TUI_USERNAME": "u", "ATRIA_TUI_PASSWORD": "p", "ATRIA_TUI_TENANT": "t"}
    assert len(store.resolve("ks", ("UserName", "Password", "Tenant"), env=env)) == 3


def test_key_file_is_0600_and_store_is_0600(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", VALUE)
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.store_path.stat().st_mode) == 0o600
    os.chmod(store.key_path, 0o644)
    assert SecretStore().resolve("cw", ["PrivateKey"], env={})["PrivateKey"] == VALUE
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600  # tightened on use


def test_no_plaintext_on_disk(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", VALUE)
    raw = store.store_path.read_text()
    assert VALUE not in raw
    data = json.loads(raw)
    assert list(data) == ["cw"] and list(data["cw"]) == ["PrivateKey"]
    for file in store.root.rglob("*"):
        assert VALUE.encode() not in file.read_bytes()


def test_secrets_never_show_values(store: SecretStore, caplog: pytest.LogCaptureFixture
                                   ) -> None:
    store.set("cw", "PrivateKey", VALUE)
    s = store.resolve("cw", NAMES, env={})
    assert s["PrivateKey"] == VALUE
    texts = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", format(s), "%s" % (s,),  # noqa: UP031
             str([s]), str({"secrets": s})]
    for text in texts:
        assert VALUE not in text and "PrivateKey=***" in text
    logging.getLogger("t").warning("secrets %s", s)
    assert VALUE not in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        copy.deepcopy(s)
    with pytest.raises(TypeError):
        vars(s)  # no __dict__ to dump
    with pytest.raises(KeyError) as info:
        s["ClientId"]
    assert VALUE not in str(info.value)


def test_corrupt_store_raises_secret_error(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", VALUE)
    store.store_path.write_text("{ garbage")
    with pytest.raises(SecretError, match="damaged"):
        store.resolve("cw", NAMES, env={})
    with pytest.raises(SecretError):
        store.names_set("cw")
    # re-entering a secret starts a fresh store and keeps the damaged one aside
    store.set("cw", "PrivateKey", VALUE)
    assert store.store_path.with_name("secrets.enc.json.damaged").exists()
    assert store.resolve("cw", ["PrivateKey"], env={})["PrivateKey"] == VALUE


def test_wrong_key_or_tampered_token_raises(store: SecretStore) -> None:
    store.set("cw", "PrivateKey", VALUE)
    data = json.loads(store.store_path.read_text())
    data["cw"]["PrivateKey"] = data["cw"]["PrivateKey"][:-6] + "AAAAAA"
    store.store_path.write_text(json.dumps(data))
    with pytest.raises(SecretError) as info:
        SecretStore().resolve("cw", NAMES, env={})
    assert "PrivateKey" in str(info.value) and VALUE not in str(info.value)
    # a lost key file: nothing can be decrypted, the message says what to do
    store.set("cw", "PrivateKey", VALUE)
    store.key_path.unlink()
    with pytest.raises(SecretError, match="ATRIA_TUI_PRIVATEKEY"):
        SecretStore().resolve("cw", ["PrivateKey"], env={})


def test_json_shape_is_checked(store: SecretStore) -> None:
    store.root.mkdir(parents=True)
    store.store_path.write_text('{"cw": ["not", "a", "table"]}')
    with pytest.raises(SecretError, match="damaged"):
        store.resolve("cw", NAMES, env={})


def test_unknown_names_are_absent(store: SecretStore) -> None:
    assert store.resolve("nobody", NAMES, env={}) == {}
    assert not store.store_path.exists()  # reading never creates anything


def test_exceptions_never_carry_values(store: SecretStore) -> None:
    with pytest.raises(SecretError) as info:
        store.set("", "PrivateKey", VALUE)
    assert VALUE not in str(info.value) and VALUE not in repr(info.value)


def test_keyring_used_when_available(store: SecretStore, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        saved: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.saved.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.saved[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.saved.pop((service, username), None)

    monkeypatch.setenv("ATRIA_TUI_KEYRING", "1")
    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        store.set("cw", "PrivateKey", VALUE)
        assert not store.key_path.exists() and len(Memory.saved) == 1
        assert SecretStore().resolve("cw", ["PrivateKey"], env={})["PrivateKey"] == VALUE
    finally:
        keyring.set_keyring(previous)


def test_redact() -> None:
    s = Secrets({"PrivateKey": VALUE, "Short": "abc", "Spaced": "a b/c+d"})
    text = f"auth={VALUE} short=abc url=a%20b%2Fc%2Bd plus=a+b%2Fc%2Bd"
    assert redact(text, s) == "auth=*** short=abc url=*** plus=***"
    assert redact(text, [VALUE]) == text.replace(VALUE, "***")
    assert redact("abcdef", ["abcd", "abcdef"]) == "***"  # longest first
