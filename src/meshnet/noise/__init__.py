"""Layer 1: the Noise Protocol Framework (revision 34) with the hybrid post-quantum extension.

Import from the defining modules (docs/protocol/noise.md): ``handshake.HandshakeState``
and ``symmetric.CipherState``/``SymmetricState`` (the spec's objects), ``authenticated.
AuthenticatedHandshake`` (what links and sessions run), ``transport.TransportCipher`` and
``replay.ReplayWindow`` (the transport phase), ``protocol.NoiseProtocol`` and
``patterns`` (names and patterns as data), ``functions`` (the crypto function sets) and
``vectors`` (the test-vector runner: ``python -m meshnet.noise.vectors FILE``).
"""
