"""Layer 5: services on sessions: messaging, content, tunnels, overlay IP (sans-IO)."""
