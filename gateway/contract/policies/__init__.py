"""The rulebook in ``policies/``, checked and resolved into lookup tables once at start-up.

docs/architecture.md section 3 step 1: "route -> policy (from policies/routes.yaml, resolved once at start-up into a
dict, not per request)". One module per file, on shared checking rules, and the loader that resolves the three:

* ``routes``: ``routes.yaml``, per OBIE v3.1.11 operation (docs/obie-notes.md section 2) the token kind, scope, AIS
  permissions (docs/obie-notes.md section 4), rate class, idempotency (docs/obie-notes.md section 5,
  "x-idempotency-key"), message signing (docs/obie-notes.md section 5, "x-jws-signature") and whether the path
  carries an ``{AccountId}``;
* ``rate_limits``: ``rate-limits.yaml``, limits per TPP tier and rate class, per consent, and the PSD2 RTS
  Art. 36(5)(b) unattended-access rule (docs/obie-notes.md section 10);
* ``fapi``: ``fapi.yaml``, accepted algorithms (FAPI 2.0 Security Profile section 5.4), clock skew and lifetimes;
* ``checking``: how every file is read and checked (``PolicyError``);
* ``loader``: ``load_policies``, the three resolved together into ``Policies``.

The OBIE documents the gateway serves are the official files of ``openapi/obie/`` keeping exactly the operations
routes.yaml declares (``routes.declared_operations``, read before the specs; ``gateway.contract.derive``).

Every file is checked strictly and the loader fails closed: an unknown key, a missing key, a value of the
wrong type, an operation not in the OpenAPI documents, an operation of them missing here, an unknown permission
or rate class, an unparsable limit string, or a value FAPI forbids raises ``PolicyError`` naming the file, the
entry and the broken rule. Nothing here is parsed per request.
"""
