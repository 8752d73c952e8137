"""Overhead experiments: paired-delta statistics judged on budgets, and the experiment folder's
outputs."""
