"""Layer 4: end-to-end encrypted sessions between NodeIds: datagrams and streams (sans-IO)."""
