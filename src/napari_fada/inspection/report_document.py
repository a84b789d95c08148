"""A report as a list of blocks, rendered as Markdown or as a self-contained HTML page.

Pictures are files beside the report, referred to by relative path, so either form opens from
the report's folder.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ReportFormat = Literal["markdown", "html"]
SUFFIX: dict[ReportFormat, str] = {"markdown": ".md", "html": ".html"}


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Picture:
    path: str
    caption: str


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Table | Picture | Code


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Table):
        lines = [
            "| " + " | ".join(_markdown_cell(c) for c in block.header) + " |",
            "|" + "---|" * len(block.header),
        ]
        lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, Picture):
        return f"![{block.caption}]({block.path})"
    fence = "````" if "```" in block.text else "```"
    return f"{fence}\n{block.text}\n{fence}"


def _html(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Heading):
        return f"<h{block.level}>{esc(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(c)}</th>" for c in block.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Picture):
        return (
            f'<figure><img src="{esc(block.path)}" alt="{esc(block.caption)}">'
            f"<figcaption>{esc(block.caption)}</figcaption></figure>"
        )
    return f"<pre>{esc(block.text)}</pre>"


_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    "img{max-width:100%}pre{background:#f4f4f4;padding:6px;white-space:pre-wrap}"
)


def render(blocks: Sequence[Block], title: str | None, kind: ReportFormat) -> str:
    """The document; Markdown without a title is a fragment (e.g. for a Qt text view)."""
    if kind == "markdown":
        heading = [f"# {title}"] if title else []
        return "\n\n".join([*heading, *(_markdown(b) for b in blocks)]) + "\n"
    title = title or ""
    body = "\n".join(_html(b) for b in blocks)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n"
        "</body></html>\n"
    )
