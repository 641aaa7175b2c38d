"""The FAPI 2.0 authorization server (FAPI 2.0 Security Profile, final)."""
