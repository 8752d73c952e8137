"""Recording a run: the run directory and its metadata.json, and request samples written as parquet
parts."""
