"""The gateway's own signing keys (ID tokens, consent-context headers, response signatures).

Kept as a private JWKS file under ``var/keys/``. ``rotate`` adds a key that signs from then on; older
keys stay published in the JWKS so tokens they signed keep verifying until they expire.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway import jose

KEYSTORE_FILE = "signing-keys.json"
# Public half, read by the sandbox bank to check the consent context the gateway signs.
PUBLIC_JWKS_FILE = "gateway-jwks.json"


class KeyStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class KeyStore:
    keys: tuple[dict[str, Any], ...]
    sandbox: bool

    @property
    def current(self) -> dict[str, Any]:
        return self.keys[-1]

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
        if path.exists():
            return cls.load(keys_dir)
        return cls.rotate(keys_dir, sandbox=sandbox)

    @classmethod
    def rotate(cls, keys_dir: Path, *, sandbox: bool) -> KeyStore:
        path = cls.path(keys_dir)
        existing: list[dict[str, Any]] = []
        if path.exists():
            data = json.loads(path.read_text())
            existing = list(data["keys"])
            # Keys once generated in sandbox mode never become production keys.
            sandbox = bool(data.get("sandbox", True)) or sandbox
        key = jose.generate_key(alg="PS256")
        key["iat"] = int(time.time())
        store = cls(keys=(*existing, key), sandbox=sandbox)
        store.save(keys_dir)
        return store

    @classmethod
    def generate_in_memory(cls, *, sandbox: bool = True) -> KeyStore:
        return cls(keys=(jose.generate_key(alg="PS256"),), sandbox=sandbox)

    def save(self, keys_dir: Path) -> None:
        path = self.path(keys_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"sandbox": self.sandbox, "keys": list(self.keys)}, fh, indent=1)
        tmp.replace(path)
        (path.parent / PUBLIC_JWKS_FILE).write_text(json.dumps(self.public_jwks(), indent=1))
