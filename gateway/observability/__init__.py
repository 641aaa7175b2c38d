"""Observability (docs/architecture.md section 1, journey 7): Prometheus metrics, structured JSON logs keyed by
``x-fapi-interaction-id``, and the per-request context that ties them together."""
