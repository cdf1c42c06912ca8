"""Layer 6: the Node, composition root of every layer (sans-IO)."""
