"""The Edge-Agent stand-in: routing, simulated upstream and caches, known costs, metrics and
telemetry."""
