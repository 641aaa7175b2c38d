"""The contract the gateway enforces: the rulebook in policies/ and the OBIE documents derived from openapi/obie (docs/architecture.md section 2)."""
