"""Type-directed JSON: one walk over a type gives both its JSON form and its JSON Schema.

Every API response is a frozen dataclass (the node's snapshots, or the views in
``schema.py``). ``encode(value, tp)`` turns a value of type ``tp`` into JSON values and
``Schemas.of(tp)`` gives the JSON Schema of exactly that output, so the OpenAPI document
cannot drift from what the server sends. The rules:

==============================================  =========================================
Python type                                     JSON
==============================================  =========================================
``str``, ``int`` (and NewTypes of it), ``bool``  the same; ``float`` is a number
``NodeId``                                      its base32 text
``MessageId``                                   its hex text
``bytes``                                       base64 text
an ``enum.Enum``                                its value
``X | None``                                    X or null
``tuple[tuple[str, int], ...]`` (counters)      an object of integers by name
``tuple[X, ...]``, ``list[X]``                  an array
``dict[str, X]``                                an object
a dataclass                                     an object of its fields (a named schema)
==============================================  =========================================

Request bodies and query strings are described by ``Field`` tuples; ``parse_fields``
checks a body or query against them (unknown field, missing field, wrong type, too
long) and raises ``ApiError`` 400 saying which.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from meshnet.api.errors import ApiError
from meshnet.crypto.identity import NodeId
from meshnet.crypto.nodeid import NODE_ID_TEXT_LENGTH
from meshnet.ids import MessageId

__all__ = ["Field", "JSONValue", "Schemas", "encode", "field_schema", "parse_fields"]

JSONValue = Any
_COUNTERS = tuple[tuple[str, int], ...]
_NONE = type(None)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_newtype(tp: Any) -> Any:
    while hasattr(tp, "__supertype__"):
        tp = tp.__supertype__
    return tp


def encode(value: object, tp: Any) -> JSONValue:
    """The JSON form of ``value``, read as type ``tp`` (see the module's table)."""
    if tp is MessageId:
        return typing.cast("bytes", value).hex()
    tp = _unwrap_newtype(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        arms = [a for a in typing.get_args(tp) if a is not _NONE]
        return encode(value, arms[0] if len(arms) == 1 else object)
    if tp == _COUNTERS:
        return {str(k): int(n) for k, n in typing.cast("Sequence[tuple[str, int]]", value)}
    if origin in (tuple, list):
        args = typing.get_args(tp)
        items = typing.cast("Sequence[object]", value)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return [encode(v, a) for v, a in zip(items, args, strict=True)]
        return [encode(v, args[0]) for v in items]
    if origin is dict:
        value_type = typing.get_args(tp)[1]
        mapping = typing.cast("Mapping[str, object]", value)
        return {str(k): encode(v, value_type) for k, v in mapping.items()}
    if origin is Literal:
        return value
    if tp is NodeId:
        return str(value)
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            return {
                f.name: encode(getattr(value, f.name), hints[f.name])
                for f in dataclasses.fields(tp)
            }
        if issubclass(tp, enum.Enum):
            return typing.cast("enum.Enum", value).value
        if tp is float:
            number = float(typing.cast("float", value))
            return number if math.isfinite(number) else None
        if tp is bytes:
            return base64.b64encode(typing.cast("bytes", value)).decode("ascii")
    return value


class Schemas:
    """Builds JSON Schemas; dataclasses become named ``components/schemas`` entries."""

    def __init__(self) -> None:
        self.components: dict[str, JSONValue] = {
            "NodeId": {
                "type": "string",
                "minLength": NODE_ID_TEXT_LENGTH,
                "maxLength": NODE_ID_TEXT_LENGTH,
                "pattern": "^[a-z2-7]+$",
                "description": "A node id: lowercase base32 of its Ed25519 public key.",
            },
            "MessageId": {
                "type": "string",
                "pattern": "^[0-9a-f]{32}$",
                "description": "A message id: 16 bytes in lowercase hex.",
            },
        }

    def of(self, tp: Any) -> JSONValue:
        """The JSON Schema of ``encode(value, tp)`` for any value of type ``tp``."""
        if tp is MessageId:
            return {"$ref": "#/components/schemas/MessageId"}
        tp = _unwrap_newtype(tp)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            arms = [self.of(a) for a in typing.get_args(tp) if a is not _NONE]
            if _NONE in typing.get_args(tp):
                arms.append({"type": "null"})
            return arms[0] if len(arms) == 1 else {"anyOf": arms}
        if tp == _COUNTERS:
            return {"type": "object", "additionalProperties": {"type": "integer"}}
        if origin in (tuple, list):
            args = typing.get_args(tp)
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                return {
                    "type": "array",
                    "prefixItems": [self.of(a) for a in args],
                    "minItems": len(args),
                    "maxItems": len(args),
                }
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of(typing.get_args(tp)[1])}
        if origin is Literal:
            return {"enum": list(typing.get_args(tp))}
        if isinstance(tp, type):
            return self._of_class(tp)
        return {}

    def _of_class(self, tp: type) -> JSONValue:
        if tp is NodeId:
            return {"$ref": "#/components/schemas/NodeId"}
        if dataclasses.is_dataclass(tp):
            return self._dataclass(tp)
        if issubclass(tp, enum.Enum):
            return {"enum": [member.value for member in tp]}
        simple = {bool: "boolean", int: "integer", str: "string"}
        if tp in simple:
            return {"type": simple[tp]}
        if tp is float:
            return {"type": "number"}
        if tp is bytes:
            return {"type": "string", "contentEncoding": "base64"}
        return {}

    def _dataclass(self, tp: type) -> JSONValue:
        name = tp.__name__
        if name not in self.components:
            self.components[name] = {}  # a placeholder while the fields are walked
            hints = _hints(tp)
            fields = dataclasses.fields(tp)
            schema: dict[str, JSONValue] = {
                "type": "object",
                "properties": {f.name: self.of(hints[f.name]) for f in fields},
                "required": [f.name for f in fields],
                "additionalProperties": False,
            }
            doc = (tp.__doc__ or "").strip()
            if doc and not doc.startswith(f"{name}("):
                schema["description"] = doc.split("\n\n")[0]
            self.components[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}


# -- request fields -------------------------------------------------------------------

FieldType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One field of a request body or query string."""

    name: str
    type: FieldType
    description: str
    required: bool = False
    max_length: int | None = None
    """Longest string accepted, in characters."""
    minimum: float | None = None
    maximum: float | None = None


def field_schema(spec: Field) -> JSONValue:
    """The JSON Schema of one field."""
    schema: dict[str, JSONValue] = {"type": spec.type, "description": spec.description}
    if spec.max_length is not None:
        schema["maxLength"] = spec.max_length
        schema["minLength"] = 1
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    return schema


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _from_query(spec: Field, text: str) -> object:
    try:
        if spec.type == "integer":
            return int(text)
        if spec.type == "number":
            return float(text)
    except ValueError:
        raise _wrong_type(spec, f"{text!r}") from None
    if spec.type == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise _wrong_type(spec, f"{text!r}")
    return text


def _wrong_type(spec: Field, shown: str) -> ApiError:
    return ApiError(
        400, "wrong_type", f"field {spec.name!r} must be a {spec.type}, got {shown[:60]}"
    )


def _check(spec: Field, value: object) -> object:
    allowed = _JSON_TYPES[spec.type]
    if (isinstance(value, bool) and spec.type != "boolean") or not isinstance(value, allowed):
        raise _wrong_type(spec, type(value).__name__ if not isinstance(value, str) else "a string")
    if isinstance(value, str) and spec.max_length is not None:
        if not value:
            raise ApiError(400, "bad_value", f"field {spec.name!r} must not be empty")
        if len(value) > spec.max_length:
            raise ApiError(
                400,
                "too_long",
                f"field {spec.name!r} is {len(value)} characters; at most {spec.max_length}",
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ApiError(400, "bad_value", f"field {spec.name!r} must be a finite number")
        if spec.minimum is not None and value < spec.minimum:
            raise ApiError(400, "bad_value", f"field {spec.name!r} must be >= {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise ApiError(400, "bad_value", f"field {spec.name!r} must be <= {spec.maximum:g}")
    return value


def parse_fields(
    specs: Sequence[Field], given: Mapping[str, object], *, where: str, from_query: bool = False
) -> dict[str, object]:
    """Check ``given`` (a JSON body or a query string) against ``specs``.

    Args:
        specs: the fields accepted.
        given: the decoded body, or the query (its values are strings then).
        where: ``"body"`` or ``"query"``, for the messages.
        from_query: the values are query-string text to convert to their types.

    Returns:
        The values by field name (absent optional fields are left out).

    Raises:
        ApiError: 400 ``unknown_field``, ``missing_field``, ``wrong_type``,
            ``too_long`` or ``bad_value``, naming the field.
    """
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise ApiError(
            400,
            "unknown_field",
            f"unknown {where} field {unknown[0][:60]!r} (accepted: {known})",
        )
    values: dict[str, object] = {}
    for spec in specs:
        if spec.name not in given:
            if spec.required:
                raise ApiError(400, "missing_field", f"the {where} needs field {spec.name!r}")
            continue
        raw = given[spec.name]
        if from_query and isinstance(raw, str):
            raw = _from_query(spec, raw)
        values[spec.name] = _check(spec, raw)
    return values
