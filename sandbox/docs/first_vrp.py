"""A first variable recurring payment (VRP) against the obgw sandbox: a sweeping VRP consent with limits, two
payments within them, one refused for going over, and the remaining allowance after each.

Run it against `make run` (or set OBGW_GATEWAY_URL / OBGW_SANDBOX_URL):

    pip install authlib joserfc httpx cryptography
    python first_vrp.py

Steps: create a sandbox app with your own keys (an ES256 key for client authentication and DPoP, a PS256 key for
OBIE message signing), register it (RFC 7591), get a DPoP-bound client-credentials token, create a
domestic-vrp-consent (OBIE VRP v3.1.11: ControlParameters with a per-payment maximum and a monthly limit;
x-idempotency-key, x-jws-signature), let the test customer approve it (sandbox headless route), exchange the code
for the customer's token, then POST /domestic-vrps as often as the limits allow (each with the consent's
Initiation and Risk and its own Instruction), settle one with the sandbox scenario control and read its status.
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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

GATEWAY = os.environ.get("OBGW_GATEWAY_URL", "http://127.0.0.1:8000")
SANDBOX = os.environ.get("OBGW_SANDBOX_URL", "http://127.0.0.1:8001")
REDIRECT_URI = "https://tpp.example.org/callback"
CUSTOMER = ("alice", "alice-wonderland")  # a documented test customer (see the portal)
PISP = f"{GATEWAY}/open-banking/v3.1/pisp"

# Your keys: the public halves go to the portal, the private halves never leave your code.
auth_key = ECKey.generate_key("P-256", parameters={"kid": "auth-1", "alg": "ES256", "use": "sig"})
signing_key = RSAKey.generate_key(2048, parameters={"kid": "sign-1", "alg": "PS256", "use": "sig"})
dpop_key = ECKey.generate_key("P-256")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def dpop(method, url, access_token=None):
    """An RFC 9449 proof: a fresh one for every request."""
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url.split("?")[0], "iat": int(time.time())}
    if access_token:
        claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.as_dict(private=False)}
    return jwt.encode(header, claims, dpop_key)


def jws_signature(body, issuer):
    """OBIE x-jws-signature: PS256 over b64url(header) "." b64url(body), payload detached (header..signature)."""
    header = {
        "alg": "PS256", "kid": "sign-1", "typ": "JOSE", "cty": "application/json",
        "http://openbanking.org.uk/iat": int(time.time()) - 1,
        "http://openbanking.org.uk/iss": issuer,  # your org_id/software_id
        "http://openbanking.org.uk/tan": "openbanking.org.uk",
        "crit": ["http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss", "http://openbanking.org.uk/tan"],
    }
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{protected}.{b64url(body)}".encode()
    signature = signing_key.private_key.sign(
        signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    return f"{protected}..{b64url(signature)}"


# 1. A sandbox app with your public keys.
app = httpx.post(f"{SANDBOX}/portal/api/apps", json={
    "name": "My first VRP", "redirect_uris": [REDIRECT_URI], "roles": ["PISP"],
    "jwks": {"keys": [auth_key.as_dict(private=False), signing_key.as_dict(private=False)]},
}).raise_for_status().json()
signer = f"{app['org_id']}/{app['software_id']}"

# 2. Register with the gateway.
meta = httpx.get(f"{GATEWAY}/.well-known/openid-configuration").raise_for_status().json()
registered = httpx.post(meta["registration_endpoint"], json={
    "software_statement": app["software_statement"], "redirect_uris": [REDIRECT_URI],
    "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
    "grant_types": ["client_credentials", "authorization_code", "refresh_token"], "response_types": ["code"],
    "scope": "openid payments",
}).raise_for_status().json()
client_id = registered["client_id"]
print("registered client", client_id)

# 3. A DPoP-bound client-credentials token (private_key_jwt, audience = the issuer).
oauth = OAuth2Client(
    client_id=client_id, client_secret=auth_key,
    token_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg="ES256"),
)
cc = oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="payments",
                       headers={"DPoP": dpop("POST", meta["token_endpoint"])})["access_token"]


def tpp_request(method, url, token, body=None, key=None):
    """A call with a DPoP-bound token; POST bodies are signed over the exact bytes sent."""
    headers = {"Authorization": f"DPoP {token}", "DPoP": dpop(method, url, token)}
    content = None
    if body is not None:
        content = json.dumps(body).encode()
        headers.update({"Content-Type": "application/json", "x-jws-signature": jws_signature(content, signer)})
        if key:
            headers["x-idempotency-key"] = key
    return httpx.request(method, url, content=content, headers=headers)


def tpp_call(method, url, token, body=None, key=None):
    return tpp_request(method, url, token, body, key).raise_for_status().json()


# 4. The VRP consent: to whom (sweeping: to the customer's own savings account), and the limits the bank enforces.
initiation = {
    "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                        "Name": "Alice savings"},
    "RemittanceInformation": {"Reference": "Sweep to savings"},
}
risk = {"PaymentContextCode": "PartyToParty"}
controls = {
    "MaximumIndividualAmount": {"Amount": "50.00", "Currency": "GBP"},
    "PeriodicLimits": [{"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "60.00", "Currency": "GBP"}],
    "VRPType": ["UK.OBIE.VRPType.Sweeping"],
    "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
    "PSUInteractionTypes": ["OffSession"],
}
consent = tpp_call("POST", f"{PISP}/domestic-vrp-consents", cc,
                   {"Data": {"ControlParameters": controls, "Initiation": initiation}, "Risk": risk},
                   key=str(uuid.uuid4()))
consent_id = consent["Data"]["ConsentId"]
print("VRP consent", consent_id, consent["Data"]["Status"])

# 5. Push the authorization request naming the consent; the customer approves (headless in the sandbox).
verifier = secrets.token_urlsafe(48)
par_url = meta["pushed_authorization_request_endpoint"]
form = {
    "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": "openid payments",
    "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
    "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
    "claims": json.dumps({"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}}),
}
url, headers, body = oauth.client_auth(oauth.token_endpoint_auth_method).prepare(
    "POST", par_url, {"Content-Type": "application/x-www-form-urlencoded"}, str(httpx.QueryParams(form)))
pushed = httpx.post(url, content=body, headers={**headers, "DPoP": dpop("POST", par_url)}).raise_for_status().json()
approved = httpx.post(f"{GATEWAY}/sandbox/headless-authorize", data={
    "client_id": client_id, "request_uri": pushed["request_uri"], "username": CUSTOMER[0],
    "password": CUSTOMER[1], "decision": "approve",
}).raise_for_status().json()
code = dict(parse_qsl(urlsplit(approved["redirect_to"]).query))["code"]
customer = oauth.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                             redirect_uri=REDIRECT_URI, code_verifier=verifier,
                             headers={"DPoP": dpop("POST", meta["token_endpoint"])})["access_token"]


def vrp(amount, n):
    """One payment under the consent: its Initiation and Risk exactly, this payment's Instruction."""
    return {"Data": {
        "ConsentId": consent_id, "PSUAuthenticationMethod": "UK.OBIE.SCANotRequired",
        "PSUInteractionType": "OffSession", "VRPType": "UK.OBIE.VRPType.Sweeping", "Initiation": initiation,
        "Instruction": {
            "InstructionIdentification": f"SWEEP-{n}", "EndToEndIdentification": f"SWEEP-{n}",
            "RemittanceInformation": {"Reference": "Sweep to savings"},
            "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
            "CreditorAccount": initiation["CreditorAccount"],
        }}, "Risk": risk}


# 6. Payments within the limits; the gateway says what is left in the x-obgw-vrp-remaining header.
payment_ids = []
for n, amount in enumerate(("25.00", "30.00"), start=1):
    answer = tpp_request("POST", f"{PISP}/domestic-vrps", customer, vrp(amount, n), key=str(uuid.uuid4()))
    answer.raise_for_status()
    payment_ids.append(answer.json()["Data"]["DomesticVRPId"])
    print("VRP", amount, answer.json()["Data"]["Status"], "remaining:", answer.headers["x-obgw-vrp-remaining"])

# 7. A third payment would take the month over GBP 60.00: refused before the bank is asked, nothing is paid.
over = tpp_request("POST", f"{PISP}/domestic-vrps", customer, vrp("10.00", 3), key=str(uuid.uuid4()))
print("refused", over.status_code, over.json()["Errors"][0]["ErrorCode"])
assert over.status_code == 400

# 8. Settle the first payment now (sandbox scenario control) and read its status with the client token.
tpp_call("POST", f"{GATEWAY}/sandbox/v1/payments/{payment_ids[0]}/settle", cc)
for _ in range(10):
    status = tpp_call("GET", f"{PISP}/domestic-vrps/{payment_ids[0]}", cc)["Data"]["Status"]
    print("status", status)
    if status == "AcceptedSettlementCompleted":
        break
    time.sleep(1)
else:
    raise SystemExit("the payment did not settle")
print("OK")
