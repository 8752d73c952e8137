"""The load engine: arrival schedules, the request mix, the open-model generator, its HTTP client
and the Locust glue."""
