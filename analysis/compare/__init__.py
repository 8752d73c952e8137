"""Two runs side by side: block-bootstrap deltas judged on tolerances, and the compare folder."""
