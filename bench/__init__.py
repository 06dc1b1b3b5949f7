"""Benchmarks: our gateway against the peer gateways, on the same services and machine."""
