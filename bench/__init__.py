"""Benchmarks and the fake mail provider they (and the integration tests) send to."""
