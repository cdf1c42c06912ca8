"""Type-directed JSON and request fields: values, schemas and the errors for bad input."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.api.errors import ApiError
from meshnet.api.shapes import Field, Schemas, encode, parse_fields
from meshnet.crypto.identity import NodeId
from meshnet.ids import LinkId


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    """An inner thing."""

    link: LinkId
    when: float | None


@dataclass(frozen=True)
class Outer:
    node: NodeId
    colour: Colour
    drops: tuple[tuple[str, int], ...]
    inner: tuple[Inner, ...]
    pair: tuple[str, int]
    blob: bytes


NODE = NodeId(bytes(range(32)))


def test_encode_follows_the_types() -> None:
    value = Outer(
        node=NODE,
        colour=Colour.RED,
        drops=(("bad_tag", 3),),
        inner=(Inner(link=LinkId(7), when=None), Inner(link=LinkId(8), when=float("inf"))),
        pair=("a", 1),
        blob=b"\x00\xff",
    )
    assert encode(value, Outer) == {
        "node": str(NODE),
        "colour": "red",
        "drops": {"bad_tag": 3},
        "inner": [{"link": 7, "when": None}, {"link": 8, "when": None}],
        "pair": ["a", 1],
        "blob": "AP8=",
    }


def test_schemas_name_dataclasses_and_describe_each_field() -> None:
    schemas = Schemas()
    assert schemas.of(Outer) == {"$ref": "#/components/schemas/Outer"}
    outer = schemas.components["Outer"]
    assert outer["required"] == ["node", "colour", "drops", "inner", "pair", "blob"]
    assert outer["additionalProperties"] is False
    props = outer["properties"]
    assert props["node"] == {"$ref": "#/components/schemas/NodeId"}
    assert props["colour"] == {"enum": ["red"]}
    assert props["drops"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["inner"] == {"type": "array", "items": {"$ref": "#/components/schemas/Inner"}}
    assert props["pair"]["prefixItems"] == [{"type": "string"}, {"type": "integer"}]
    inner = schemas.components["Inner"]
    assert inner["description"] == "An inner thing."
    assert inner["properties"]["when"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}


SPECS = (
    Field(name="to", type="string", description="", required=True, max_length=8),
    Field(name="limit", type="integer", description="", minimum=1, maximum=10),
    Field(name="unread", type="boolean", description=""),
    Field(name="expires_in", type="number", description="", minimum=1),
)


def test_good_fields_pass_with_their_types() -> None:
    got = parse_fields(SPECS, {"to": "bob", "limit": 3, "expires_in": 2}, where="body")
    assert got == {"to": "bob", "limit": 3, "expires_in": 2}
    query = {"to": "bob", "limit": "3", "unread": "true", "expires_in": "1.5"}
    got = parse_fields(SPECS, query, where="query", from_query=True)
    assert got == {"to": "bob", "limit": 3, "unread": True, "expires_in": 1.5}


@pytest.mark.parametrize(
    ("given_fields", "code", "says"),
    [
        ({"to": "bob", "colour": 1}, "unknown_field", "'colour'"),
        ({}, "missing_field", "'to'"),
        ({"to": 5}, "wrong_type", "'to' must be a string"),
        ({"to": "bob", "limit": True}, "wrong_type", "'limit' must be a integer"),
        ({"to": "bob", "limit": 2.5}, "wrong_type", "'limit'"),
        ({"to": "bob", "unread": "yes"}, "wrong_type", "'unread' must be a boolean"),
        ({"to": "abcdefghi"}, "too_long", "at most 8"),
        ({"to": ""}, "bad_value", "must not be empty"),
        ({"to": "bob", "limit": 11}, "bad_value", "<= 10"),
        ({"to": "bob", "expires_in": 0}, "bad_value", ">= 1"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    given_fields: dict[str, object], code: str, says: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_fields(SPECS, given_fields, where="body")
    assert (caught.value.status, caught.value.code) == (400, code)
    assert says in caught.value.message


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4))
def test_any_query_is_accepted_or_refused_with_a_400(query: dict[str, str]) -> None:
    try:
        parse_fields(SPECS, query, where="query", from_query=True)
    except ApiError as exc:
        assert exc.status == 400
