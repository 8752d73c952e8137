"""Load-shape rules: per-stage judgement, spike recovery, the stress knee, soak memory growth."""
