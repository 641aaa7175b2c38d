"""The bank as the gateway calls it: account backends, payments and the customer-page directory (docs/architecture.md section 2)."""
