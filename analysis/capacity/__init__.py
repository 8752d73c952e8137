"""Capacity at an SLO: the rate search, probe verdicts, and the capacity folder's outputs."""
