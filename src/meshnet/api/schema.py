"""JSON forms of the node's events and snapshots, shared by the daemon, API and CLI.

``to_json`` turns any of the node's frozen dataclasses (events, status snapshots) into
plain JSON values: ``NodeId`` becomes its text form, enums their value, and bytes a
UTF-8 string when they are text, else ``{"base64": ...}``. Events carry their kind
(the class name) so a reader in any language can dispatch on it.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
from typing import Any

from meshnet.crypto.identity import IdentityRecord, NodeId

__all__ = ["JSONValue", "event_to_json", "to_json"]

JSONValue = Any


def _bytes(value: bytes) -> JSONValue:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}
    if text.isprintable() or not text:
        return text
    return {"base64": base64.b64encode(value).decode("ascii")}


def to_json(value: object) -> JSONValue:
    """A JSON-ready form of ``value`` (dataclasses, ids, enums, bytes, containers)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, NodeId):
        return str(value)
    if isinstance(value, IdentityRecord):
        return {
            "node_id": str(value.node_id),
            "static_public": value.static_public.hex(),
            "created": value.created,
        }
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(bytes(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return str(value)


def event_to_json(event: object) -> dict[str, JSONValue]:
    """An event as ``{"event": <class name>, ...its fields}``."""
    body = to_json(event)
    return {"event": type(event).__name__, **(body if isinstance(body, dict) else {})}
