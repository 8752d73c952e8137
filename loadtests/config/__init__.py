"""Configuration of a run: scenario files and their validation, A/B variants, metric profiles."""
