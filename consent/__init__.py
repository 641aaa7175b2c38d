"""The consent domain: what each bank customer allowed each TPP to do (OBIE R/W API v3.1.11)."""
