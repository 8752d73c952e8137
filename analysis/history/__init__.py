"""Runs side by side: key figures across a reports folder, the regression rule, the index."""
