"""Copy-paste examples shown after an app is created: register at the gateway and get a first token.

Journey 1 then 2 (docs/architecture.md section 1): discover ``registration_endpoint`` from
``{issuer}/.well-known/openid-configuration`` (RFC 8414 section 3), register with the SSA (RFC 7591 section 3.1
JSON with ``software_statement``), then a ``client_credentials`` token with DPoP (RFC 9449 section 4) and
``private_key_jwt`` (RFC 7523 section 2.2; FAPI 2.0: ``aud`` is the issuer) or ``tls_client_auth``
(RFC 8705 section 2.1). Values are embedded with ``json.dumps``/``repr``, never by string splicing, so a name
with quotes cannot break the code shown.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from sandbox.models import SoftwareApp

SCOPES = {"AISP": "accounts", "PISP": "payments", "CBPII": "fundsconfirmations"}


def registration_request(app: SoftwareApp, *, software_statement: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "software_statement": software_statement,
        "redirect_uris": list(app.redirect_uris),
        "token_endpoint_auth_method": app.token_endpoint_auth_method,
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code"],
        "id_token_signed_response_alg": "PS256",
        "request_object_signing_alg": "PS256",
        "scope": " ".join(["openid", *(SCOPES[r] for r in app.roles)]),
    }
    if app.token_endpoint_auth_method == "private_key_jwt":
        body["token_endpoint_auth_signing_alg"] = "PS256"
    else:
        body["tls_client_auth_subject_dn"] = app.tls_client_auth_subject_dn
    return body


def curl_example(app: SoftwareApp, *, software_statement: str, issuer: str) -> str:
    registration = json.dumps(registration_request(app, software_statement=software_statement), indent=2)
    discovery = shlex.quote(f"{issuer}/.well-known/openid-configuration")
    lines = [
        "# 1. Save the registration request",
        f"cat > registration.json <<'JSON'\n{registration}\nJSON",
        "",
        "# 2. Discover the registration endpoint",
        f"REG=$(curl -s {discovery} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"registration_endpoint\"])')",
        "",
        "# 3. Register: the answer carries your client_id",
    ]
    if app.token_endpoint_auth_method == "tls_client_auth":
        lines.append(
            'curl -s -X POST "$REG" --cert client-cert.pem --key client-key.pem '
            "-H 'content-type: application/json' -d @registration.json"
        )
    else:
        lines.append("curl -s -X POST \"$REG\" -H 'content-type: application/json' -d @registration.json")
    lines += ["", "# 4. A token needs a signed DPoP proof (and client assertion): see the Python example."]
    return "\n".join(lines)


_PYTHON_PRIVATE_KEY_JWT = '''\
"""Register {name} at the gateway and get a first client_credentials token (DPoP-bound)."""
import json
import time
import uuid

import httpx
from authlib.jose import JsonWebKey, jwt

ISSUER = {issuer!r}
REGISTRATION = json.loads({registration!r})
# The private JWK the portal showed once, saved to this file:
private_jwk = json.load(open("private-jwk.json"))
signing_key = JsonWebKey.import_key(private_jwk)

meta = httpx.get(ISSUER + "/.well-known/openid-configuration").json()
registered = httpx.post(meta["registration_endpoint"], json=REGISTRATION)
registered.raise_for_status()
client_id = registered.json()["client_id"]

now = int(time.time())
assertion = jwt.encode(
    {{"alg": "PS256", "kid": private_jwk["kid"]}},
    {{"iss": client_id, "sub": client_id, "aud": ISSUER, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}},
    signing_key,
).decode()
dpop_key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
proof = jwt.encode(
    {{"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.as_dict(is_private=False)}},
    {{"htm": "POST", "htu": meta["token_endpoint"], "iat": now, "jti": str(uuid.uuid4())}},
    dpop_key,
).decode()
token = httpx.post(
    meta["token_endpoint"],
    headers={{"DPoP": proof}},
    data={{
        "grant_type": "client_credentials",
        "scope": {scope!r},
        "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }},
)
print(token.status_code, token.json())
'''

_PYTHON_TLS_CLIENT_AUTH = '''\
"""Register {name} at the gateway and get a first client_credentials token (DPoP-bound, mutual TLS client)."""
import json
import time
import uuid

import httpx
from authlib.jose import JsonWebKey, jwt

ISSUER = {issuer!r}
REGISTRATION = json.loads({registration!r})
# The client certificate and key the portal showed once, saved to these files. Behind a TLS terminator the
# certificate is presented in the handshake; against a local plain-HTTP gateway, the terminator's header is
# sent directly (accepted only from the gateway's trusted proxy addresses).
CERT = ("client-cert.pem", "client-key.pem")
http = httpx.Client(cert=CERT) if ISSUER.startswith("https://") else httpx.Client(
    headers={{"x-ssl-client-cert": __import__("urllib.parse").parse.quote(open(CERT[0]).read())}}
)

meta = http.get(ISSUER + "/.well-known/openid-configuration").json()
registered = http.post(meta["registration_endpoint"], json=REGISTRATION)
registered.raise_for_status()
client_id = registered.json()["client_id"]

now = int(time.time())
dpop_key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
proof = jwt.encode(
    {{"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.as_dict(is_private=False)}},
    {{"htm": "POST", "htu": meta["token_endpoint"], "iat": now, "jti": str(uuid.uuid4())}},
    dpop_key,
).decode()
token = http.post(
    meta["token_endpoint"],
    headers={{"DPoP": proof}},
    data={{"grant_type": "client_credentials", "scope": {scope!r}, "client_id": client_id}},
)
print(token.status_code, token.json())
'''


def python_example(app: SoftwareApp, *, software_statement: str, issuer: str) -> str:
    registration = registration_request(app, software_statement=software_statement)
    template = _PYTHON_TLS_CLIENT_AUTH if app.token_endpoint_auth_method == "tls_client_auth" else _PYTHON_PRIVATE_KEY_JWT
    return template.format(
        name=app.client_name.replace('"', "'").replace("\\", "/"),
        issuer=issuer,
        registration=json.dumps(registration),
        scope=" ".join(SCOPES[r] for r in app.roles),
    )
