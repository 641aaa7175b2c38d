"""The gateway database: engine, schema check, migrations and the tables the authorization server and the payment pipeline keep (docs/architecture.md section 2)."""
