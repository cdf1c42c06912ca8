"""The deterministic simulator: the same Node on virtual time and in-memory links."""
