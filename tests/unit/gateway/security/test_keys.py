"""Key rotation: a new key of each family signs, old keys stay published so their tokens keep verifying
(gateway/security/keys.py: PS256 for ID tokens and response signatures, ES256 for bank context tokens)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gateway.security import jose
from gateway.security.keys import KeyStore
from gateway.security.keys import KeyStoreError


def test_rotate_adds_a_key_and_keeps_the_old_ones_published(tmp_path: Path) -> None:
    first = KeyStore.ensure(tmp_path, sandbox=True)
    token = jose.sign({"sub": "x"}, key=first.current)
    second = KeyStore.rotate(tmp_path, sandbox=True)
    assert second.current["kid"] != first.current["kid"]
    published = second.public_jwks()["keys"]
    assert {k["kid"] for k in published} == {first.current["kid"], second.current["kid"],
                                             first.context_key["kid"], second.context_key["kid"]}
    assert second.context_key["kid"] != first.context_key["kid"]
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


def test_each_family_signs_with_its_own_algorithm(tmp_path: Path) -> None:
    store = KeyStore.ensure(tmp_path, sandbox=True)
    assert jose.unverified_header(jose.sign({"sub": "x"}, key=store.current))["alg"] == "PS256"
    assert jose.unverified_header(jose.sign({"sub": "x"}, key=store.context_key))["alg"] == "ES256"


def test_a_store_written_before_the_context_key_gains_one_and_keeps_its_signing_key(tmp_path: Path) -> None:
    old = KeyStore(keys=(jose.generate_key(alg="PS256"),), sandbox=True)
    old.save(tmp_path)
    with pytest.raises(KeyStoreError, match="no ES256 signing key"):
        KeyStore.load(tmp_path).newest("ES256")
    upgraded = KeyStore.ensure(tmp_path, sandbox=True)
    assert upgraded.current == old.current
    assert upgraded.context_key["alg"] == "ES256"
    assert KeyStore.load(tmp_path).context_key == upgraded.context_key
