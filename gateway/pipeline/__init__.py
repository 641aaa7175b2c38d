"""The resource enforcement pipeline (ARCHITECTURE section 3): one small module per step, composed in ``ais``."""
