"""From zero to a first account-access consent and access token against the obgw sandbox.

Run it against `make run` (or set OBGW_GATEWAY_URL / OBGW_SANDBOX_URL):

    pip install authlib joserfc httpx
    python first_consent.py

Steps: create a sandbox app (software statement), register it with the gateway (RFC 7591), get a DPoP-bound
client-credentials token (RFC 9449, private_key_jwt RFC 7523), create an account-access consent (OBIE v3.1.11),
push the authorization request (RFC 9126), let the test customer approve it (sandbox headless route), and
exchange the code for the customer's access token.
"""

import base64
import hashlib
import json
import os
import secrets
import time
import uuid
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey

GATEWAY = os.environ.get("OBGW_GATEWAY_URL", "http://127.0.0.1:8000")
SANDBOX = os.environ.get("OBGW_SANDBOX_URL", "http://127.0.0.1:8001")
REDIRECT_URI = "https://tpp.example.org/callback"
CUSTOMER = ("alice", "alice-wonderland")  # a documented test customer (see the portal)

dpop_key = ECKey.generate_key("P-256")


def dpop(method, url, access_token=None):
    """An RFC 9449 proof: a fresh one for every request."""
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url.split("?")[0], "iat": int(time.time())}
    if access_token:
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.as_dict(private=False)}
    return jwt.encode(header, claims, dpop_key)


# 1. A sandbox app: the portal returns its software statement and (this once) its private key.
app = httpx.post(f"{SANDBOX}/portal/api/apps", json={
    "name": "My first TPP", "redirect_uris": [REDIRECT_URI], "roles": ["AISP"],
}).raise_for_status().json()

# 2. Register with the gateway at the endpoint its discovery document names.
meta = httpx.get(f"{GATEWAY}/.well-known/openid-configuration").raise_for_status().json()
registered = httpx.post(meta["registration_endpoint"], json={
    "software_statement": app["software_statement"], "redirect_uris": [REDIRECT_URI],
    "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": app["private_jwk"]["alg"],
    "grant_types": ["client_credentials", "authorization_code", "refresh_token"], "response_types": ["code"],
    "scope": "openid accounts",
}).raise_for_status().json()
client_id = registered["client_id"]
print("registered client", client_id)

# 3. A client-credentials token, DPoP-bound; FAPI 2.0: the assertion's audience is the issuer.
oauth = OAuth2Client(
    client_id=client_id, client_secret=app["private_jwk"],
    token_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg=app["private_jwk"]["alg"]),
)
cc = oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="accounts",
                       headers={"DPoP": dpop("POST", meta["token_endpoint"])})

# 4. The account-access consent.
consents = f"{GATEWAY}/open-banking/v3.1/aisp/account-access-consents"
consent = httpx.post(consents, json={
    "Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail",
                             "ReadTransactionsCredits", "ReadTransactionsDebits"]},
    "Risk": {},
}, headers={
    "Authorization": f"DPoP {cc['access_token']}", "DPoP": dpop("POST", consents, cc["access_token"]),
}).raise_for_status().json()
consent_id = consent["Data"]["ConsentId"]
print("consent", consent_id, consent["Data"]["Status"])

# 5. Push the authorization request naming the consent (PKCE S256), client-authenticated like the token call.
verifier = secrets.token_urlsafe(48)
par_url = meta["pushed_authorization_request_endpoint"]
form = {
    "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": "openid accounts",
    "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
    "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
    "claims": json.dumps({"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}}),
}
url, headers, body = oauth.client_auth(oauth.token_endpoint_auth_method).prepare(
    "POST", par_url, {"Content-Type": "application/x-www-form-urlencoded"}, httpx.QueryParams(form).__str__())
pushed = httpx.post(url, content=body, headers={**headers, "DPoP": dpop("POST", par_url)}).raise_for_status().json()

# 6. The customer approves. In a browser: send them to /authorize?client_id=...&request_uri=...
#    The sandbox also offers a headless route for automated tests, which answers with the same redirect.
approved = httpx.post(f"{GATEWAY}/sandbox/headless-authorize", data={
    "client_id": client_id, "request_uri": pushed["request_uri"], "username": CUSTOMER[0],
    "password": CUSTOMER[1], "decision": "approve",
}).raise_for_status().json()
code = dict(parse_qsl(urlsplit(approved["redirect_to"]).query))["code"]

# 7. The customer's access token (and refresh token), bound to the same DPoP key.
tokens = oauth.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                           redirect_uri=REDIRECT_URI, code_verifier=verifier,
                           headers={"DPoP": dpop("POST", meta["token_endpoint"])})
print("customer token:", tokens["token_type"], "expires in", tokens["expires_in"], "s")

# Next: call the accounts API with tokens["access_token"] and a fresh DPoP proof carrying its "ath".
# First payment: see first_payment.py (payment consent, approval, signed payment order, settlement).
print("OK")
