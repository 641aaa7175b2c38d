# The steps of first_consent.py that need no signature, with curl (against `make run`).
GATEWAY=${OBGW_GATEWAY_URL:-http://127.0.0.1:8000}
SANDBOX=${OBGW_SANDBOX_URL:-http://127.0.0.1:8001}

# The documented test customers, their passwords and accounts
curl -s "$SANDBOX/portal/api/psus"

# A sandbox app: keep the answer, it holds your private key (shown once) and software statement
curl -s -X POST "$SANDBOX/portal/api/apps" -H 'content-type: application/json' \
  -d '{"name": "My first TPP", "redirect_uris": ["https://tpp.example.org/callback"], "roles": ["AISP"]}' > app.json

# Where to register, get tokens and push authorization requests
curl -s "$GATEWAY/.well-known/openid-configuration"

# Tokens and consents need a client assertion and a DPoP proof signed with your keys: see the Python example.
