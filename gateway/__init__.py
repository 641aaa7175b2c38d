"""obgw gateway: the edge, the FAPI 2.0 authorization server and the composition root."""
