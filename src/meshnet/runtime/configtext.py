"""The text of ``config.toml`` as ``meshnet init`` writes it, and the list of every key.

Both come from the config dataclasses (``runtime/config.py``): each field's metadata
holds its value kind (which renders the default as TOML) and its description, so the
default file, ``docs/config.md`` (checked against ``config_keys`` by a test) and the
validation cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from meshnet.runtime.config import SECTIONS
from meshnet.runtime.configvalues import Petnames, kind_of

__all__ = ["config_keys", "default_config_text"]


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def _keys() -> Iterator[tuple[str, str, dataclasses.Field[Any]]]:
    for section, cls in SECTIONS.items():
        for item in fields(cls):
            yield section, item.name, item


def config_keys() -> list[tuple[str, str, str]]:
    """Every key as (dotted key, default as TOML, description), in file order."""
    return [
        (f"{section}.{name}", kind_of(item.metadata).render(_default(item)), item.metadata["doc"])
        for section, name, item in _keys()
    ]


_HEADER = """\
# MeshNet node configuration (TOML), written by `meshnet init`.
#
# Every key is shown with its default value; a key or section left out takes its
# default. Relative paths are inside the state directory. Flags of `meshnet up`
# (--listen, --connect, --no-discovery, --classic, --log-level) override this file.
# An unknown key or a bad value stops the node with an error naming it.
# Reference: docs/config.md.
"""


def default_config_text() -> str:
    """The commented default config file: every key, its default and what it does."""
    lines = [_HEADER]
    for section, cls in SECTIONS.items():
        lines += [f"# {(cls.__doc__ or '').strip()}", f"[{section}]"]
        for item in fields(cls):
            kind = kind_of(item.metadata)
            doc = _wrap(item.metadata["doc"])
            if isinstance(kind, Petnames):
                lines += ["", *doc, "# For example:", '#   alice = "NODE_ID"']
                lines.append(f"[{section}.{item.name}]")
                lines += [f"{k} = {json.dumps(str(v))}" for k, v in _default(item).items()]
            else:
                lines += ["", *doc, f"{item.name} = {kind.render(_default(item))}"]
        lines.append("")
    return "\n".join(lines)


def _wrap(text: str, width: int = 88) -> list[str]:
    lines: list[str] = []
    current = "#"
    for word in text.split():
        if len(current) + 1 + len(word) > width:
            lines.append(current)
            current = "#"
        current += " " + word
    lines.append(current)
    return lines
