"""The sandbox: a mock bank, a software-statement directory and the partner portal (its own ASGI app)."""
