"""Layer 3: signed link-state routing and source-routed forwarding (sans-IO)."""
