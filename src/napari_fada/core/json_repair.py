"""Find JSON in a language model's answer and read it leniently.

Models wrap their JSON in reasoning blocks, code fences and prose, keep generating after the
answer, use Python literals or single quotes, leave trailing commas and get cut off by the token
limit. :func:`answer_body` strips the wrappers, :func:`json_values` yields every JSON value it
can read in the text, repairing what is salvageable and recording what it repaired.

A value cut off by the end of the text is closed with its complete parts; every container that
was closed that way is listed in :attr:`JsonValue.cut_off`, so callers can drop a cut-off item
instead of trusting half of it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 64
MAX_CANDIDATES = 32

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
#: Where a chat turn ends: a special token, or a line "assistant" (checked by :func:`_chat_end`).
_CHAT_END = re.compile(r"<\|im_end\|>|<\|im_start\|>|<\|endoftext\|>|assistant")
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[^\W\d]\w*")
_OPENER = re.compile(r"[\[{]")
_LITERALS: dict[str, Any] = {
    "true": True, "false": False, "null": None, "True": True, "False": False, "None": None,
    "NaN": math.nan, "Infinity": math.inf,
}  # fmt: skip
_PYTHON_LITERALS = frozenset({"True", "False", "None"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\"}


def _without_thoughts(text: str) -> tuple[str, bool]:
    """``text`` less every ``<think>...</think>`` block (the first ``</think>`` after each
    ``<think>``), and whether any held more than blanks. One pass, whatever the text."""
    kept, thought, position = [], False, 0
    while (start := text.find(_THINK_OPEN, position)) != -1:
        end = text.find(_THINK_CLOSE, start + len(_THINK_OPEN))
        if end == -1:
            break
        kept.append(text[position:start])
        thought = thought or bool(text[start + len(_THINK_OPEN) : end].strip())
        position = end + len(_THINK_CLOSE)
    kept.append(text[position:])
    return "".join(kept), thought


def _chat_end(text: str) -> tuple[int, int] | None:
    """(start, end) of the first end of a chat turn: a special token, or "assistant" alone on
    its line, from the line break before it to the last one after it (blanks between)."""
    for match in _CHAT_END.finditer(text):
        if match.group() != "assistant":
            return match.span()
        start, end = match.start(), match.end()
        while start > 0 and text[start - 1].isspace():
            start -= 1
        while end < len(text) and text[end].isspace():
            end += 1
        first_break = text.find("\n", start, match.start())
        last_break = text.rfind("\n", match.end(), end)
        if first_break != -1 and last_break != -1:
            return first_break, last_break + 1
    return None


def answer_body(text: str) -> tuple[str, list[str]]:
    """The part of a model's output that holds its first answer, and notes on what was cut."""
    notes: list[str] = []
    text, thought = _without_thoughts(text)
    if thought:
        notes.append("skipped the model's reasoning (<think> block)")
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
        notes.append("skipped reasoning that ended with a stray </think>")
    if "<think>" in text:
        text = text.replace("<think>", "")
        notes.append("the <think> block was never closed: looked for the answer inside it")
    end = _chat_end(text)
    if end is not None:
        if text[end[1] :].strip():
            notes.append("ignored what the model generated after its first answer")
        text = text[: end[0]]
    fence = _FENCE.search(text)
    if fence is not None and re.search(r"[\[{]", fence.group(1)):
        text = fence.group(1)
    return text.strip(), notes


@dataclass
class JsonValue:
    """One JSON value read from a text.

    ``strict`` is true when the text held valid JSON (no repair); ``repairs`` names each kind of
    repair made; ``cut_off`` holds the ``id()`` of every container the end of the text closed.
    """

    value: Any
    start: int
    end: int
    strict: bool = True
    repairs: list[str] = field(default_factory=list)
    cut_off: set[int] = field(default_factory=set)

    def is_cut_off(self, item: object) -> bool:
        return id(item) in self.cut_off


class _Unreadable(Exception):
    """The text at this position is not (repairable) JSON."""


class _Incomplete:
    """Marker for a scalar cut off by the end of the text."""


_INCOMPLETE = _Incomplete()


class _Reader:
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.repairs: list[str] = []
        self.cut_off: set[int] = set()

    def repair(self, what: str) -> None:
        if what not in self.repairs:
            self.repairs.append(what)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_space(self) -> None:
        text = self.text
        while self.pos < len(text):
            if text[self.pos].isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline
                self.repair("comments")
            else:
                return

    def cut(self, container: object) -> None:
        self.cut_off.add(id(container))

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Unreadable("nested too deeply")
        self.skip_space()
        if self.at_end():
            return _INCOMPLETE
        char = self.text[self.pos]
        if char == "[":
            return self.array(depth, "]")
        if char == "(":
            self.repair("Python tuples")
            return self.array(depth, ")")
        if char == "{":
            return self.object(depth)
        if char in "\"'":
            return self.string()
        if char in "+-.0123456789":
            return self.number()
        if _WORD.match(char):
            return self.word()
        raise _Unreadable(f"unexpected {char!r}")

    def _separator(self, container: object) -> bool:
        """After an item: consume a comma; True when the container is finished (or cut)."""
        self.skip_space()
        if self.at_end():
            self.cut(container)
            return True
        char = self.text[self.pos]
        if char == ",":
            self.pos += 1
            self.skip_space()
            if not self.at_end() and self.text[self.pos] in "]})":
                self.repair("trailing comma")
            return False
        if char not in "]})":
            self.repair("missing comma")
        return False

    def _close(self, closer: str) -> bool:
        """At a closing bracket: consume ours; a mismatched one closes us without consuming."""
        char = self.text[self.pos]
        if char == closer:
            self.pos += 1
            return True
        if char in "]})":
            self.repair("mismatched brackets")
            return True
        return False

    def array(self, depth: int, closer: str) -> list[Any]:
        items: list[Any] = []
        self.pos += 1
        while True:
            self.skip_space()
            if self.at_end():
                self.cut(items)
                return items
            if self._close(closer):
                return items
            if self.text[self.pos] == ",":
                self.repair("extra comma")
                self.pos += 1
                continue
            item = self.value(depth + 1)
            if item is _INCOMPLETE:
                self.cut(items)
                return items
            items.append(item)
            if self.cut_off and id(item) in self.cut_off:
                self.cut(items)
                return items
            if self._separator(items):
                return items

    def object(self, depth: int) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        self.pos += 1
        while True:
            self.skip_space()
            if self.at_end():
                self.cut(obj)
                return obj
            if self._close("}"):
                return obj
            if self.text[self.pos] == ",":
                self.repair("extra comma")
                self.pos += 1
                continue
            key = self.key()
            self.skip_space()
            if key is _INCOMPLETE or self.at_end():
                self.cut(obj)
                return obj
            if self.text[self.pos] != ":":
                raise _Unreadable("expected ':' after a key")
            self.pos += 1
            item = self.value(depth + 1)
            if item is _INCOMPLETE:
                self.cut(obj)
                return obj
            obj[str(key)] = item
            if self.cut_off and id(item) in self.cut_off:
                self.cut(obj)
                return obj
            if self._separator(obj):
                return obj

    def key(self) -> Any:
        char = self.text[self.pos]
        if char in "\"'":
            return self.string()
        if _WORD.match(char):
            self.repair("unquoted keys")
            return self._token()
        if char in "+-.0123456789":
            number = self.number()
            return number if number is _INCOMPLETE else str(number)
        raise _Unreadable(f"unexpected {char!r} where a key should be")

    def string(self) -> str | _Incomplete:
        quote = self.text[self.pos]
        if quote == "'":
            self.repair("single quotes")
        text = self.text
        pos = self.pos + 1
        out: list[str] = []
        while pos < len(text):
            char = text[pos]
            if char == quote:
                self.pos = pos + 1
                return "".join(out)
            if char == "\\" and pos + 1 < len(text):
                pos, decoded = self._escape(pos + 1)
                out.append(decoded)
                continue
            out.append(char)
            pos += 1
        self.pos = len(text)
        return _INCOMPLETE

    def _escape(self, pos: int) -> tuple[int, str]:
        """Decode the escape whose letter is at ``pos``; unknown escapes stand for themselves."""
        char = self.text[pos]
        if char == "u":
            digits = self.text[pos + 1 : pos + 5]
            if re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                return pos + 5, chr(int(digits, 16))
        return pos + 1, _ESCAPES.get(char, char)

    def number(self) -> float | int | _Incomplete:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise _Unreadable("not a number")
        self.pos = match.end()
        if self.at_end():
            return _INCOMPLETE
        token = match.group()
        if re.fullmatch(r"[-+]?\d{1,300}", token):
            return int(token)
        return float(token)

    def _token(self) -> str | _Incomplete:
        """A bare word; incomplete when the text ends right after it."""
        match = _WORD.match(self.text, self.pos)
        if match is None:
            raise _Unreadable("not a word")
        self.pos = match.end()
        return _INCOMPLETE if self.at_end() else match.group()

    def word(self) -> Any:
        word = self._token()
        if isinstance(word, _Incomplete):
            return word
        if word in _LITERALS:
            if word in _PYTHON_LITERALS:
                self.repair("Python literals")
            return _LITERALS[word]
        self.repair("unquoted text")
        return word


def _strict(text: str, start: int) -> JsonValue | None:
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    return JsonValue(value, start, end)


def _lenient(text: str, start: int) -> JsonValue | None:
    reader = _Reader(text, start)
    try:
        value = reader.value(0)
    except (_Unreadable, RecursionError, ValueError, OverflowError):
        return None
    if value is _INCOMPLETE:
        return None
    return JsonValue(value, start, reader.pos, False, reader.repairs, reader.cut_off)


def json_values(text: str) -> Iterator[JsonValue]:
    """Every JSON object or list in ``text``, in order, each read strictly if possible."""
    pos = 0
    for _ in range(MAX_CANDIDATES):
        match = _OPENER.search(text, pos)
        if match is None:
            return
        start = match.start()
        found = _strict(text, start) or _lenient(text, start)
        if found is None:
            pos = start + 1
            continue
        yield found
        pos = max(found.end, start + 1)
