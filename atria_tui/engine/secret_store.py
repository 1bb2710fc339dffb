"""Write-only, encrypted secret store (API keys, passwords) for jobs.

The guides promise that secrets, once stored, can never be shown again; this module keeps
that promise by having no API that returns a stored value except `resolve`, whose result
(`Secrets`) masks values in every textual form and refuses to be pickled or copied.
Values are Fernet-encrypted; the key lives in the OS keyring when one is really there,
else in a 0600 key file beside the store. Environment variables `ATRIA_TUI_<NAME>` win
over the store so cron and CI never need the store (or a desktop keyring) at all.
No message raised here ever contains a secret value.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus

from cryptography.fernet import Fernet, InvalidToken

from atria_tui.core.paths import atomic_write, data_dir

__all__ = ["ENV_PREFIX", "SecretError", "SecretStore", "Secrets", "env_name", "redact"]

STORE_FILE = "secrets.enc.json"
KEY_FILE = "secret.key"
KEYRING_ENV = "ATRIA_TUI_KEYRING"
ENV_PREFIX = "ATRIA_TUI_"
_KEYRING_SERVICE = "atria-tui"
MASK = "***"
NameSet = set[str]  # `set` is shadowed inside SecretStore by its method


class SecretError(Exception):
    """A problem with the store or its key; the text names jobs and secrets, never values."""


def env_name(name: str) -> str:
    """The environment variable that overrides secret `name` (ClientId → ATRIA_TUI_CLIENTID)."""
    return ENV_PREFIX + name.upper()


class Secrets(Mapping[str, str]):
    """Resolved secret values for one run; every textual form shows names only."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(values or {})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Secrets(" + ", ".join(f"{name}={MASK}" for name in self._values) + ")"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def _refuse(self, *args: Any) -> NoReturn:
        raise TypeError("Secrets cannot be pickled or copied (that would write values out)")

    __reduce__ = _refuse
    __reduce_ex__ = _refuse
    __getstate__ = _refuse
    __copy__ = _refuse
    __deepcopy__ = _refuse


# An HTTP credential after its scheme word: session tokens (Kaseya's Bearer) are never among
# the stored secrets, so they are recognised by shape instead. 16+ characters, because
# "Business Basic licences" is a product name, not a credential.
_AUTH_TOKEN = re.compile(r"\b(Bearer|Basic)(\s+|%20|\+)[A-Za-z0-9._~+/-]{16,}=*",
                         re.IGNORECASE)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value of 4+ characters (plain or URL-encoded) masked, and any
    `Bearer …`/`Basic …` credential too.

    Passing a `Secrets` (or any mapping) redacts its values, not its names.
    """
    return redact_forms(text, secret_forms(secrets))


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """The texts `redact` masks for these secrets, longest first: worked out once by a
    caller that redacts many texts (a 5,000-customer plan logs 25,000 rows)."""
    values = secrets.values() if isinstance(secrets, Mapping) else secrets
    forms: set[str] = set()
    for value in values:
        if isinstance(value, str) and len(value) >= 4:
            forms.update((value, quote(value, safe=""), quote_plus(value)))
    return tuple(sorted(forms, key=len, reverse=True))


def redact_forms(text: str, forms: Iterable[str]) -> str:
    """`redact` with the forms of `secret_forms`."""
    for form in forms:
        text = text.replace(form, MASK)
    return _AUTH_TOKEN.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def _keyring_backend() -> Any | None:
    """The OS keyring, or None when it is disabled, absent or broken."""
    if os.environ.get(KEYRING_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return None
        if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
            return None
        if type(backend).__module__.endswith("backends.null"):
            return None
        return backend
    except Exception:
        return None


class SecretStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        self.store_path = self.root / STORE_FILE
        self.key_path = self.root / KEY_FILE
        self._fernet: Fernet | None = None

    # --- public ------------------------------------------------------------------------

    def set(self, job_id: str, name: str, value: str) -> None:
        """Store (replace) one secret; an empty value clears it."""
        _check_name(job_id, "job id")
        _check_name(name, "secret name")
        if not value.strip():
            self.clear(job_id, name)
            return
        fernet = self._cipher(create=True)
        assert fernet is not None
        data = self._read(for_write=True)
        entries = data.setdefault(job_id, {})
        for existing in [k for k in entries if k.casefold() == name.casefold()]:
            del entries[existing]
        entries[name] = fernet.encrypt(value.encode("utf-8")).decode("ascii")
        self._write(data)

    def clear(self, job_id: str, name: str) -> None:
        data = self._read(for_write=True)
        entries = data.get(job_id, {})
        doomed = [k for k in entries if k.casefold() == name.casefold()]
        if not doomed:
            return
        for key in doomed:
            del entries[key]
        if not entries:
            del data[job_id]
        self._write(data)

    def forget(self, job_id: str) -> None:
        """Drop every secret of a job (the job was deleted)."""
        data = self._read(for_write=True)
        if data.pop(job_id, None) is not None:
            self._write(data)

    def names_set(self, job_id: str) -> NameSet:
        return set(self._read().get(job_id, {}))

    def resolve(self, job_id: str, names: Sequence[str],
                env: Mapping[str, str] | None = None) -> Secrets:
        """Values for `names`: environment first, then the store; unknown names absent."""
        environ: Mapping[str, str] = os.environ if env is None else env
        values: dict[str, str] = {}
        missing: list[str] = []
        for name in names:
            override = environ.get(env_name(name))
            if override:
                values[name] = override
            else:
                missing.append(name)
        if missing:
            stored = {k.casefold(): v for k, v in self._read().get(job_id, {}).items()}
            wanted = [n for n in missing if n.casefold() in stored]
            if wanted:
                fernet = self._cipher(create=False)
                if fernet is None:
                    raise SecretError(
                        f"cannot decrypt the secrets of job {job_id!r}: the encryption key is "
                        f"not available (OS keyring unreachable, or {self.key_path} removed); "
                        "re-enter them, or set " + ", ".join(env_name(n) for n in wanted))
                for name in wanted:
                    values[name] = self._decrypt(fernet, stored[name.casefold()], job_id, name)
        return Secrets({n: values[n] for n in names if n in values})

    # --- storage -----------------------------------------------------------------------

    def _read(self, for_write: bool = False) -> dict[str, dict[str, str]]:
        try:
            raw = self.store_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise SecretError(f"cannot read the secret store {self.store_path}: "
                              f"{err.strerror or type(err).__name__}") from None
        try:
            data = json.loads(raw)
            ok = isinstance(data, dict) and all(
                isinstance(entries, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items())
                for entries in data.values())
        except (ValueError, UnicodeDecodeError):
            ok = False
        if ok:
            return data
        if for_write:
            # Nothing in it can be read any more; keep it for forensics, start afresh.
            with contextlib.suppress(OSError):
                os.replace(self.store_path, self.store_path.with_name(STORE_FILE + ".damaged"))
            return {}
        raise SecretError(f"the secret store {self.store_path} is damaged (not the expected "
                          "JSON); re-enter the job's secrets to replace it")

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.store_path, text.encode("utf-8"), mode=0o600)
        except OSError as err:  # a full disk, or ATRIA_TUI_HOME pointing at a file
            raise SecretError(f"cannot write the secret store {self.store_path}: "
                              f"{err.strerror or type(err).__name__}") from None

    @staticmethod
    def _decrypt(fernet: Fernet, token: str, job_id: str, name: str) -> str:
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretError(f"cannot decrypt secret {name} of job {job_id!r}: the store is "
                              "damaged or was written with another key; re-enter it") from None

    # --- key -----------------------------------------------------------------------------

    def _cipher(self, create: bool) -> Fernet | None:
        """The store's cipher; `create` makes a key when there is none yet.

        An existing key file wins over the keyring so a store started without a keyring
        stays readable when one appears later.
        """
        if self._fernet is not None:
            return self._fernet
        key: bytes | None = None
        if self.key_path.exists():
            key = self._read_key_file()
        else:
            backend = _keyring_backend()
            if backend is not None:
                key = self._keyring_key(backend, create)
            if key is None and create:
                key = self._create_key_file()
        if key is None:
            return None
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretError(f"the encryption key for {self.root} is damaged; delete "
                              f"{self.key_path.name} and re-enter all secrets") from None
        return self._fernet

    def _keyring_key(self, backend: Any, create: bool) -> bytes | None:
        user = f"store-key:{self.root.absolute()}"
        try:
            stored = backend.get_password(_KEYRING_SERVICE, user)
            if stored:
                return str(stored).encode("ascii")
            if not create:
                return None
            key = Fernet.generate_key()
            backend.set_password(_KEYRING_SERVICE, user, key.decode("ascii"))
            return key
        except Exception:
            return None  # a keyring that fails is no keyring

    def _read_key_file(self) -> bytes:
        try:
            if self.key_path.stat().st_mode & 0o077:
                os.chmod(self.key_path, 0o600)
            return self.key_path.read_bytes().strip()
        except OSError as err:
            raise SecretError(f"cannot read the key file {self.key_path}: "
                              f"{err.strerror or type(err).__name__}") from None

    def _create_key_file(self) -> bytes:
        key = Fernet.generate_key()
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if not self.root.is_dir():
                raise SecretError(f"cannot create the key file in {self.root}: it is a file, "
                                  "not a folder (check ATRIA_TUI_HOME)") from None
            return self._read_key_file()
        except OSError as err:
            raise SecretError(f"cannot create the key file {self.key_path}: "
                              f"{err.strerror or type(err).__name__}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(self.key_path, 0o600)
        return key


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SecretError(f"a {what} is required")
