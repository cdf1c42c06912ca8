"""Layer 1: the Noise Protocol Framework (revision 34) with the hybrid post-quantum extension."""
