"""Server-side collection: Prometheus queries, the live poll during the load, the local process
sampler."""
