"""Which texts can still grow into a JSON value valid under a (small) JSON schema.

Constrained decoding asks, for each candidate token, whether the answer so far plus the token's
text is still the beginning of a valid answer. :class:`JsonPrefix` answers that one character at a
time. It understands the schema subset of :func:`napari_fada.core.fada_format.answer_schema`:
``type`` (object, array, string, integer, number, boolean, null), ``enum``, ``anyOf``,
``properties`` with ``required`` (written in the schema's order), ``items``, ``prefixItems``,
``minItems``/``maxItems`` and integer ``minimum``/``maximum``; an empty schema means any JSON.

The text is compact JSON as ``json.dumps`` writes it: one optional space after ``,`` and ``:``,
no other whitespace. A parse is a stack of frames; ``anyOf`` and numbers (which end only when the
next character is not a digit) are followed as alternative stacks. Parses are hashable values,
so constrained decoding can keep what it worked out for a parse it meets again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

Schema = dict[str, Any]
Stack = tuple["_Frame", ...]

_DIGITS = "0123456789"
_ESCAPES = '"\\/bfnrt'
_HEX = "0123456789abcdefABCDEF"
_NUMBER_CHARS = frozenset("0123456789-+.eE")


class _Frame:
    """One open JSON construct. ``feed`` returns the stacks it turns into; ``done`` pops it."""

    done = False
    can_end = False

    def feed(self, char: str) -> list[Stack]:
        raise NotImplementedError

    def child_done(self) -> _Frame:
        return self


@dataclass(frozen=True)
class _Literal(_Frame):
    """One of a few fixed texts (an enum value, a key, true/false/null)."""

    options: tuple[str, ...]
    typed: str = ""

    def feed(self, char: str) -> list[Stack]:
        typed = self.typed + char
        if not any(o.startswith(typed) for o in self.options):
            return []
        return [(replace(self, typed=typed),)]

    @property
    def done(self) -> bool:  # type: ignore[override]
        return self.typed in self.options


@dataclass(frozen=True)
class _String(_Frame):
    """Inside a string, after its opening quote; ``escape`` counts the escape's pending chars."""

    escape: str = ""
    closed: bool = False

    def feed(self, char: str) -> list[Stack]:
        if self.escape == "\\":
            if char == "u":
                return [(replace(self, escape="uuuu"),)]
            return [(replace(self, escape=""),)] if char in _ESCAPES else []
        if self.escape:
            return [(replace(self, escape=self.escape[1:]),)] if char in _HEX else []
        if char == '"':
            return [(replace(self, closed=True),)]
        if char == "\\":
            return [(replace(self, escape="\\"),)]
        return [(self,)] if char >= " " else []

    @property
    def done(self) -> bool:  # type: ignore[override]
        return self.closed


@dataclass(frozen=True)
class _Number(_Frame):
    """An integer within bounds, or (``integer`` False) any JSON number."""

    integer: bool = True
    minimum: float | None = None
    maximum: float | None = None
    typed: str = ""

    def feed(self, char: str) -> list[Stack]:
        typed = self.typed + char
        return [(replace(self, typed=typed),)] if self._possible(typed) else []

    def _possible(self, typed: str) -> bool:
        digits = typed.removeprefix("-")
        if typed.startswith("-") and self.minimum is not None and self.minimum >= 0:
            return False
        if self.integer:
            if not digits:
                return typed == "-"
            if not digits.isdigit() or (digits[0] == "0" and len(digits) > 1):
                return False
            return self.maximum is None or int(typed) <= self.maximum
        if typed[0] == "+" or any(c not in _NUMBER_CHARS for c in typed):
            return False
        try:
            float(typed + ("0" if typed[-1] in "-.eE+" else ""))
        except ValueError:
            return False
        return not (digits.startswith("0") and digits[1:2].isdigit())

    @property
    def can_end(self) -> bool:  # type: ignore[override]
        if not self.typed or self.typed[-1] in "-.eE+":
            return False
        value = float(self.typed)
        return (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )


@dataclass(frozen=True)
class _Array(_Frame):
    """After ``[``; ``state`` is "item" (a value may start), "next" (after one) or "space"."""

    schema: Schema = field(hash=False)
    count: int = 0
    state: str = "first"
    closed: bool = False

    def _item_schema(self) -> Schema:
        prefix = self.schema.get("prefixItems", [])
        return prefix[self.count] if self.count < len(prefix) else self.schema.get("items", {})

    def feed(self, char: str) -> list[Stack]:
        can_close = self.count >= self.schema.get("minItems", 0)
        more = self.count < self.schema.get("maxItems", float("inf"))
        if self.state in ("first", "next") and char == "]" and can_close:
            return [(replace(self, closed=True),)]
        if self.state == "next":
            return [(replace(self, state="comma"),)] if char == "," and more else []
        if self.state == "comma" and char == " ":
            return [(replace(self, state="item"),)]
        if self.state == "first" and not more:
            return []
        waiting = replace(self, state="wait")
        return [(waiting, *stack) for stack in _start(self._item_schema(), char)]

    def child_done(self) -> _Frame:
        return replace(self, count=self.count + 1, state="next")

    @property
    def done(self) -> bool:  # type: ignore[override]
        return self.closed


@dataclass(frozen=True)
class _Object(_Frame):
    """After ``{``. With ``properties`` the keys come in the schema's order; else any keys.

    ``state``: "first"/"next" (a key or ``}`` may come), "comma", "key" (a key must come),
    "colon", "space" (after ``:``), "value".
    """

    schema: Schema = field(hash=False)
    count: int = 0
    state: str = "first"
    closed: bool = False

    def _keys(self) -> list[str] | None:
        properties = self.schema.get("properties")
        return list(properties) if properties else None

    def _key_frame(self, char: str) -> list[Stack]:
        keys = self._keys()
        if keys is None:
            return [(replace(self, state="colon"), _String())] if char == '"' else []
        if self.count >= len(keys):
            return []
        key = _Literal((json.dumps(keys[self.count]),))
        return [(replace(self, state="colon"), *s) for s in key.feed(char)]

    def _value_schema(self) -> Schema:
        keys = self._keys()
        return self.schema["properties"][keys[self.count]] if keys else {}

    def feed(self, char: str) -> list[Stack]:
        keys = self._keys()
        required = len(keys) if keys else 0
        if self.state in ("first", "next") and char == "}" and self.count >= required:
            return [(replace(self, closed=True),)]
        if self.state == "next":
            more = keys is None or self.count < required
            return [(replace(self, state="comma"),)] if char == "," and more else []
        if self.state == "comma" and char == " ":
            return [(replace(self, state="key"),)]
        if self.state in ("first", "comma", "key"):
            return self._key_frame(char)
        if self.state == "colon":
            return [(replace(self, state="space"),)] if char == ":" else []
        if self.state == "space" and char == " ":
            return [(replace(self, state="value"),)]
        waiting = replace(self, state="wait")
        return [(waiting, *stack) for stack in _start(self._value_schema(), char)]

    def child_done(self) -> _Frame:
        if self.state == "colon":  # the key just closed
            return self
        return replace(self, count=self.count + 1, state="next")

    @property
    def done(self) -> bool:  # type: ignore[override]
        return self.closed


def _start(schema: Schema, char: str) -> list[Stack]:
    """Stacks for a value of ``schema`` whose first character is ``char``."""
    if "anyOf" in schema:
        return [stack for option in schema["anyOf"] for stack in _start(option, char)]
    if "enum" in schema:
        return _Literal(tuple(json.dumps(v) for v in schema["enum"])).feed(char)
    kind = schema.get("type")
    if kind is None:
        kinds = ("object", "array", "string", "number", "boolean", "null")
        return [stack for k in kinds for stack in _start({"type": k}, char)]
    if kind == "string":
        return [(_String(),)] if char == '"' else []
    if kind == "array":
        return [(_Array(schema),)] if char == "[" else []
    if kind == "object":
        return [(_Object(schema),)] if char == "{" else []
    if kind in ("integer", "number"):
        number = _Number(kind == "integer", schema.get("minimum"), schema.get("maximum"))
        return number.feed(char)
    literals = {"boolean": ("true", "false"), "null": ("null",)}
    return _Literal(literals.get(kind, ())).feed(char)


def _settle(stack: Stack) -> Stack:
    """Pop finished frames, telling each parent its child is done."""
    while stack and stack[-1].done:
        stack = stack[:-1]
        if stack:
            stack = (*stack[:-1], stack[-1].child_done())
    return stack


def _step(stack: Stack, char: str) -> list[Stack]:
    """The stacks after ``char``; a number that may end here also tries ending."""
    if not stack:
        return []
    top = stack[-1]
    results = [_settle((*stack[:-1], *new)) for new in top.feed(char)]
    if top.can_end:
        ended = _settle((*stack[:-1], _Ended()))
        results += _step(ended, char)
    return results


@dataclass(frozen=True)
class _Ended(_Frame):
    """Stands for a number that ends here, so that ``_settle`` returns to its parent."""

    done = True


@dataclass(frozen=True)
class JsonPrefix:
    """The set of parses of the text so far; empty means the text can no longer be valid."""

    stacks: tuple[Stack, ...]

    @classmethod
    def start(cls, schema: Schema) -> JsonPrefix:
        return cls(((_Root(schema),),))

    def feed(self, text: str) -> JsonPrefix:
        stacks = list(self.stacks)
        for char in text:
            stacks = [new for stack in stacks for new in _step(stack, char)]
            if not stacks:
                break
        return JsonPrefix(tuple(stacks))

    @property
    def alive(self) -> bool:
        return bool(self.stacks)

    @property
    def in_plain_string(self) -> bool:
        """Every parse is inside a string, no escape pending: any character from a space up,
        other than a quote or a backslash, leaves the parse as it is."""
        return bool(self.stacks) and all(
            bool(stack) and isinstance(stack[-1], _String) and not stack[-1].escape
            for stack in self.stacks
        )

    @property
    def complete(self) -> bool:
        """The text is a whole valid value (a number may still go on, but need not)."""
        return any(_finished(stack) for stack in self.stacks)


def _finished(stack: Stack) -> bool:
    if len(stack) == 1 and isinstance(stack[0], _Root):
        return stack[0].finished
    return len(stack) == 2 and isinstance(stack[0], _Root) and stack[1].can_end


@dataclass(frozen=True)
class _Root(_Frame):
    """The bottom of every stack: one value, then nothing."""

    schema: Schema = field(hash=False)
    finished: bool = False

    def feed(self, char: str) -> list[Stack]:
        if self.finished:
            return []
        return [(replace(self, finished=True), *stack) for stack in _start(self.schema, char)]
