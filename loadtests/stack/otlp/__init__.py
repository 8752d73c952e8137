"""The OTLP receiver standing in for the OpenTelemetry Collector: wire format, counting, faults."""
