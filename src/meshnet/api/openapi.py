"""The OpenAPI 3.1 document of the local API, built from the route table.

``openapi_document()`` walks ``routes.ROUTES`` (the same table the server registers)
and the response types' hints (``shapes.Schemas``), so what it says is what the server
does. Served at ``GET /openapi.json``.
"""

from __future__ import annotations

from typing import Any

from meshnet.api.routes import MAX_BODY, ROUTES, Route
from meshnet.api.shapes import JSONValue, Schemas, field_schema
from meshnet.version import __version__

__all__ = ["ERROR_SCHEMA", "openapi_document"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "a stable machine-readable code"},
        "message": {"type": "string", "description": "what is wrong, in one line"},
        "candidates": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/NodeId"},
            "description": "for ambiguous_peer: the node ids the name matches",
        },
    },
    "required": ["error", "message"],
}

_REASONS = {
    400: "The request is malformed (unknown field, wrong type, bad value or name)",
    401: "Missing or wrong bearer token (TCP listener only)",
    404: "No such node, endpoint or object",
    409: "The name is ambiguous, or the node is in the wrong state for this",
    413: f"The body is over {MAX_BODY} bytes (or a message body over its limit)",
    503: "The message store could not commit; nothing was accepted",
}

_DESCRIPTION = (
    "Control a running MeshNet node. The API is served on a Unix socket with mode "
    "0600 (only its owner can connect; no token is needed there) and, when configured, "
    "on 127.0.0.1:PORT, where every request needs `Authorization: Bearer TOKEN`. "
    "Errors are JSON objects {error, message}. Nodes are named by petname, unique id "
    "prefix or full id wherever a request names one."
)


def _error(status: int) -> JSONValue:
    return {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation(route: Route, schemas: Schemas) -> JSONValue:
    op: dict[str, JSONValue] = {
        "operationId": route.operation,
        "summary": route.summary,
        "tags": [route.tag],
    }
    if route.description:
        op["description"] = route.description
    parameters = [
        {"name": f.name, "in": "path", "required": True, "schema": field_schema(f)}
        for f in route.path_params
    ]
    parameters += [
        {"name": f.name, "in": "query", "required": f.required, "schema": field_schema(f)}
        for f in route.query
    ]
    if parameters:
        op["parameters"] = parameters
    statuses = {400, 401, *route.errors}
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {f.name: field_schema(f) for f in route.body},
                        "required": [f.name for f in route.body if f.required],
                        "additionalProperties": False,
                    }
                }
            },
        }
        statuses.add(413)
    responses: dict[str, JSONValue] = {}
    if route.kind == "json":
        responses[str(route.status)] = {
            "description": route.summary,
            "content": {"application/json": {"schema": schemas.of(route.response)}},
        }
    elif route.kind == "events":
        responses["200"] = {
            "description": "an endless text/event-stream of node events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    elif route.kind == "metrics":
        responses["200"] = {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    else:
        responses["200"] = {
            "description": "the OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    for status in sorted(statuses):
        responses[str(status)] = _error(status)
    op["responses"] = responses
    return op


def openapi_document() -> dict[str, JSONValue]:
    """The whole document, as JSON values."""
    schemas = Schemas()
    paths: dict[str, dict[str, JSONValue]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    components = dict(sorted(schemas.components.items()))
    components["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "MeshNet local API", "version": __version__, "description": _DESCRIPTION},
        "servers": [{"url": "http://mesh"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
