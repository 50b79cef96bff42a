"""The Graph API ``fields`` syntax, parsed into a tree (pure).

Meta's grammar, as used by the endpoints the simulator serves::

    fields   := field ("," field)*
    field    := NAME modifier* ["{" fields "}"]
    modifier := "." NAME "(" ARG ")"

so ``id,caption`` is two plain fields and
``mentioned_media.media_id(17873440459141021){caption,media_type}`` is one field with the
modifier ``media_id`` and two sub-fields. Whitespace between tokens is ignored. An empty string
means "no fields requested" (the endpoint's defaults apply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FieldSyntaxError(ValueError):
    """The ``fields`` value is not valid Graph field syntax; ``position`` is where it broke."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"{message} at character {position}: {text}")
        self.position = position


@dataclass(frozen=True)
class FieldSpec:
    """One requested field: its name, ``.name(arg)`` modifiers and optional sub-fields."""

    name: str
    modifiers: tuple[tuple[str, str], ...] = ()
    children: tuple[FieldSpec, ...] | None = None

    def modifier(self, name: str) -> str | None:
        """The argument of modifier ``name`` (e.g. ``media_id``), or ``None`` when absent."""
        for key, value in self.modifiers:
            if key == name:
                return value
        return None


def parse_fields(text: str) -> tuple[FieldSpec, ...]:
    """Parse a ``fields`` value; raises `FieldSyntaxError` on malformed input."""
    parser = _Parser(text)
    parser.skip_space()
    if parser.at_end():
        return ()
    specs = parser.field_list()
    parser.skip_space()
    if not parser.at_end():
        raise parser.error(f"Expected ',' or end of string instead of {parser.peek()!r}")
    return specs


class _Parser:
    """Recursive descent over the grammar in the module docstring."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if not self.at_end() else ""

    def error(self, message: str) -> FieldSyntaxError:
        return FieldSyntaxError(message, self.text, self.pos)

    def skip_space(self) -> None:
        while not self.at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            found = repr(self.peek()) if not self.at_end() else "end of string"
            raise self.error(f"Expected {char!r} instead of {found}")
        self.pos += 1

    def name(self) -> str:
        self.skip_space()
        match = _NAME.match(self.text, self.pos)
        if match is None:
            found = repr(self.peek()) if not self.at_end() else "end of string"
            raise self.error(f"Expected a field name instead of {found}")
        self.pos = match.end()
        return match.group()

    def field_list(self) -> tuple[FieldSpec, ...]:
        specs = [self.field()]
        self.skip_space()
        while self.peek() == ",":
            self.pos += 1
            specs.append(self.field())
            self.skip_space()
        return tuple(specs)

    def field(self) -> FieldSpec:
        name = self.name()
        modifiers: list[tuple[str, str]] = []
        self.skip_space()
        while self.peek() == ".":
            self.pos += 1
            key = self.name()
            self.expect("(")
            close = self.text.find(")", self.pos)
            if close < 0:
                raise self.error("Expected ')' to close the modifier")
            argument = self.text[self.pos : close].strip()
            if not argument:
                raise self.error(f"Expected an argument for modifier {key!r}")
            modifiers.append((key, argument))
            self.pos = close + 1
            self.skip_space()
        children: tuple[FieldSpec, ...] | None = None
        if self.peek() == "{":
            self.pos += 1
            children = self.field_list()
            self.expect("}")
        return FieldSpec(name=name, modifiers=tuple(modifiers), children=children)
