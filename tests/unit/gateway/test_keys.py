"""Key rotation: a new key signs, old keys stay published so their tokens keep verifying."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from gateway import jose
from gateway.keys import KeyStore


def test_rotate_adds_a_key_and_keeps_the_old_ones_published(tmp_path: Path) -> None:
    first = KeyStore.ensure(tmp_path, sandbox=True)
    token = jose.sign({"sub": "x"}, key=first.current)
    second = KeyStore.rotate(tmp_path, sandbox=True)
    assert second.current["kid"] != first.current["kid"]
    published = second.public_jwks()["keys"]
    assert {k["kid"] for k in published} == {first.current["kid"], second.current["kid"]}
    assert all(not jose.is_private(k) for k in published)
    assert jose.verify_with_jwks(token, jwks=published) == {"sub": "x"}


def test_private_keys_are_written_owner_only_and_public_jwks_beside_them(tmp_path: Path) -> None:
    store = KeyStore.ensure(tmp_path, sandbox=True)
    mode = stat.S_IMODE((tmp_path / "signing-keys.json").stat().st_mode)
    assert mode == 0o600
    public = json.loads((tmp_path / "gateway-jwks.json").read_text())
    assert public == store.public_jwks()


def test_production_rotation_of_sandbox_keys_stays_marked_sandbox(tmp_path: Path) -> None:
    KeyStore.ensure(tmp_path, sandbox=True)
    assert KeyStore.rotate(tmp_path, sandbox=False).sandbox is True
    fresh = tmp_path / "prod"
    assert KeyStore.rotate(fresh, sandbox=False).sandbox is False
