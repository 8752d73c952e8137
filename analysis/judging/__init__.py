"""Judging measurements against targets, and the summary document the verdicts are saved in."""
