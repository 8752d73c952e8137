"""Reading a run directory into typed frames (and writing synthetic ones for tests, benchmarks)."""
