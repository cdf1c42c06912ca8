"""Layer 2: one authenticated, encrypted hop to one neighbour (sans-IO)."""
