"""``obgw``: the command line, operator commands and the benchmark; the only part of the gateway that starts the sandbox (docs/architecture.md section 2)."""
