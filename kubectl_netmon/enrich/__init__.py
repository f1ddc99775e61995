"""Pod context for IPs: who held an address at a given time."""
