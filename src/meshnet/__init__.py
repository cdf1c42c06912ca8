"""MeshNet: a decentralized, end-to-end encrypted peer-to-peer mesh network.

The public facade is kept small; everything else is imported from the module that
defines it (``meshnet.sim`` for the simulator, ``meshnet.noise`` for Noise).
"""

from __future__ import annotations

from meshnet.version import __version__

__all__ = ["__version__"]
