"""``obgw bank check``: the conformance kit a bank runs against its own adapter of the bank-backend contract
(``openapi/bank-backend.yaml``; docs/bank-integration.md section 4, docs/architecture.md section 9)."""
