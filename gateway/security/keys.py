"""The gateway's own signing keys, one family per use (docs/architecture.md section 6):

* ``SIGNING_ALG`` (PS256): ID tokens and ``x-jws-signature`` response signatures, which TPPs verify (OBIE R/W API
  "Message Signing" requires PS256);
* ``CONTEXT_ALG`` (ES256): the ``x-obgw-context`` token on every call to the bank. It is signed once per
  resource request, so its cost is on the hot path: an ES256 signature costs about a tenth of a PS256 one
  (P-256 against RSA-2048 private-key operations); ES256 is in the FAPI 2.0 Security Profile section 5.4 set,
  which every JOSE library a bank uses verifies.

Kept as a private JWKS file under ``var/keys/``. ``rotate`` adds a key of each family that signs from then on;
older keys stay published in the JWKS so tokens they signed keep verifying until they expire.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.security import jose

KEYSTORE_FILE = "signing-keys.json"
# Public half, read by the sandbox bank to check the consent context the gateway signs.
PUBLIC_JWKS_FILE = "gateway-jwks.json"
SIGNING_ALG = "PS256"
CONTEXT_ALG = "ES256"
ALGORITHMS = (SIGNING_ALG, CONTEXT_ALG)


class KeyStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class KeyStore:
    keys: tuple[dict[str, Any], ...]
    sandbox: bool

    def newest(self, alg: str) -> dict[str, Any]:
        """The key that signs ``alg`` from now on: the last one added."""
        for key in reversed(self.keys):
            if key.get("alg") == alg:
                return key
        raise KeyStoreError(f"no {alg} signing key: run 'obgw keys rotate'")

    @property
    def current(self) -> dict[str, Any]:
        """The key for ID tokens and response signatures."""
        return self.newest(SIGNING_ALG)

    @property
    def context_key(self) -> dict[str, Any]:
        """The key for the bank context tokens."""
        return self.newest(CONTEXT_ALG)

    def missing(self) -> tuple[str, ...]:
        held = {key.get("alg") for key in self.keys}
        return tuple(alg for alg in ALGORITHMS if alg not in held)

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        return jose.public_jwks(k for k in self.keys)

    @staticmethod
    def path(keys_dir: Path) -> Path:
        return keys_dir / KEYSTORE_FILE

    @classmethod
    def load(cls, keys_dir: Path) -> KeyStore:
        path = cls.path(keys_dir)
        if not path.exists():
            raise KeyStoreError(f"no signing keys at {path}: run 'obgw keys rotate' or 'obgw up'")
        data = json.loads(path.read_text())
        keys = tuple(data["keys"])
        if not keys:
            raise KeyStoreError(f"{path} holds no keys")
        return cls(keys=keys, sandbox=bool(data.get("sandbox", True)))

    @classmethod
    def ensure(cls, keys_dir: Path, *, sandbox: bool) -> KeyStore:
        path = cls.path(keys_dir)
        if not path.exists():
            return cls.rotate(keys_dir, sandbox=sandbox)
        store = cls.load(keys_dir)
        if store.missing():
            # A key store written before a family existed gets a key of that family; the others stay as they are.
            store = cls(keys=(*store.keys, *_new_keys(store.missing())), sandbox=store.sandbox)
            store.save(keys_dir)
        return store

    @classmethod
    def rotate(cls, keys_dir: Path, *, sandbox: bool) -> KeyStore:
        path = cls.path(keys_dir)
        existing: list[dict[str, Any]] = []
        if path.exists():
            data = json.loads(path.read_text())
            existing = list(data["keys"])
            # Keys once generated in sandbox mode never become production keys.
            sandbox = bool(data.get("sandbox", True)) or sandbox
        store = cls(keys=(*existing, *_new_keys(ALGORITHMS)), sandbox=sandbox)
        store.save(keys_dir)
        return store

    @classmethod
    def generate_in_memory(cls, *, sandbox: bool = True) -> KeyStore:
        return cls(keys=_new_keys(ALGORITHMS), sandbox=sandbox)

    def save(self, keys_dir: Path) -> None:
        path = self.path(keys_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"sandbox": self.sandbox, "keys": list(self.keys)}, fh, indent=1)
        tmp.replace(path)
        (path.parent / PUBLIC_JWKS_FILE).write_text(json.dumps(self.public_jwks(), indent=1))


def _new_keys(algorithms: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    now = int(time.time())
    return tuple({**jose.generate_key(alg=alg), "iat": now} for alg in algorithms)
