"""The run contract both stages import: run-directory layout and schemas, targets, statuses and
exit codes, atomic writes."""
