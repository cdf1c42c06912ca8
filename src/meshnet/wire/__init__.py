"""Layer 0: bytes <-> values: readers and writers, framing, and the one table of type codes."""
