"""Starting and stopping the embedded stack's processes: agent, OTLP receiver, Redis, Prometheus."""
