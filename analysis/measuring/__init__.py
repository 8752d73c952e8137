"""Measurements of one run: client latency and rates, server-side figures, streaming, goodput,
cache, outages, generator stalls."""
