"""Layer 0: cryptographic primitives over `cryptography`, identities and entropy."""
