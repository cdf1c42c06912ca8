"""The asyncio driver: sockets, files, the wall clock, and the daemon."""
