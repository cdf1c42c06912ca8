"""Layer 3: signed link-state routing and source-routed forwarding (sans-IO).

``router.Router`` is the layer's facade; docs/protocol/routing.md is its specification.
"""
