"""Measurements of one run: client latency and rates, server-side figures, streaming, goodput,
cache, sessions, outages, generator stalls."""
