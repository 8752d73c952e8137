"""Experiments built on the engine: `edgeperf run`, `edgeperf overhead`, `make bench` and its fast
target."""
