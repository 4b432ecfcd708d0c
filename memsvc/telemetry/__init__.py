"""What the service measures about itself, for Prometheus (``/metrics``)."""
