"""The resource enforcement pipeline (docs/architecture.md section 3): one small module per step, composed in ``ais``."""
