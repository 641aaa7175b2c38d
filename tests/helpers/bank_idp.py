"""The bank's OpenID Connect provider for the tests: node-oidc-provider (npm ``oidc-provider``), an implementation
independent of obgw, run over HTTPS on a loopback port with the configuration in ``node/bank_idp_provider.mjs``.

It is installed at test time into a cache directory outside the repository (``$XDG_CACHE_HOME/obgw/bank-idp-node``,
the way the benchmark installs it) and never committed. Without node, npm or the package the tests fail: the bank
sign-in of production mode is not tested without a real provider.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trustme

from gateway.security import jose
from tests.live import free_port

PACKAGE = "oidc-provider@9"
SCRIPT = Path(__file__).with_name("node") / "bank_idp_provider.mjs"
ACR_SCA = "urn:openbanking:psd2:sca"
ACR_CA = "urn:openbanking:psd2:ca"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "obgw" / "bank-idp-node"


def install() -> Path:
    """The directory holding node-oidc-provider and the provider script; fails if it cannot be installed."""
    npm = shutil.which("npm")
    assert shutil.which("node") and npm, "node and npm are needed to run the bank's identity provider"
    directory = cache_dir()
    if not (directory / "node_modules" / "oidc-provider" / "package.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--prefix", str(directory), "--no-audit", "--no-fund",
                               "--loglevel=error", PACKAGE], capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"npm install {PACKAGE} failed: {done.stderr.strip()[-500:]}"
    # Beside its node_modules, so that node resolves 'oidc-provider' from there.
    shutil.copyfile(SCRIPT, directory / SCRIPT.name)
    return directory


@dataclass(frozen=True, kw_only=True)
class BankIdp:
    issuer: str
    client_id: str
    client_key: dict[str, Any]
    client_key_file: Path
    redirect_uri: str
    ca: trustme.CA
    log: Path

    def transport(self) -> httpx.AsyncHTTPTransport:
        """What the gateway reaches the provider over: HTTPS trusting the test CA only."""
        return httpx.AsyncHTTPTransport(verify=self._context())

    def _context(self) -> Any:
        import ssl

        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def browser(self) -> httpx.AsyncClient:
        """The customer's browser at the bank: keeps the provider's cookies, follows nothing by itself."""
        return httpx.AsyncClient(verify=self._context(), timeout=10.0)


@contextmanager
def running_bank_idp(*, work: Path, redirect_uri: str, accounts: list[str]) -> Iterator[BankIdp]:
    """node-oidc-provider on a free loopback port until the block ends (stopped by its pid)."""
    directory = install()
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = work / "idp-cert.pem", work / "idp-key.pem"
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(key_file))
    server_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    client_key = jose.generate_key(alg="ES256")
    client_key_file = work / "idp-client-key.json"
    client_key_file.write_text(json.dumps(client_key))
    provider_key = jose.generate_key(alg="ES256")
    config = {
        "client_id": "obgw-gateway",
        "client_jwks": jose.public_jwks([client_key]),
        "provider_jwks": {"keys": [provider_key]},
        "redirect_uri": redirect_uri,
        "acr_values": [ACR_SCA, ACR_CA],
        "accounts": accounts,
    }
    config_file = work / "idp-config.json"
    config_file.write_text(json.dumps(config))
    port = free_port()
    log = work / "idp.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [shutil.which("node") or "node", str(directory / SCRIPT.name), str(port), str(config_file),
             str(cert_file), str(key_file)], stdout=out, stderr=subprocess.STDOUT, cwd=directory)
    issuer = f"https://127.0.0.1:{port}"
    idp = BankIdp(issuer=issuer, client_id="obgw-gateway", client_key=client_key, client_key_file=client_key_file,
                  redirect_uri=redirect_uri, ca=ca, log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the provider exited:\n{log.read_text(errors='replace')}"
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", verify=idp._context(),
                             timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the provider did not start:\n{log.read_text(errors='replace')}"
            time.sleep(0.1)
        yield idp
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
