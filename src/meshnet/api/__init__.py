"""The local control API: schema, pure handlers, server and client."""
