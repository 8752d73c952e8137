"""Everything a reader sees: the HTML report and its sections, charts, CI files, redaction, the
headless browser."""
