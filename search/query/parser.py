"""The query syntax, parsed forgivingly: any string a user can type parses.

    word word        either word; passages matching more words rank higher
    "a phrase"       the exact words in this order (never translated); only ASCII quotes
                     mark a phrase: «…» and “…” are punctuation, as in the text they are copied from
    a AND b          both;  a OR b: either;  NOT a, -a: without a
    ( ... )          grouping
    =word            this exact form only (no stemming, no translation)
    word*            words starting with "word"
    lang:ru          only Russian passages (or lang:en)

A quote without its closing quote is punctuation (a fragment copied from a quotation is
no phrase); unbalanced brackets are ignored; operators
without an operand are dropped. A query with nothing left to search for is an
empty query, which the caller reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Union

from ..analysis import words
from ..languages import Lang, is_stopword

_HAS_WORD = re.compile(r"[^\W_]")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")
"""Quotes, question marks and the like around a word (and the = and * markers)."""


@dataclass(frozen=True)
class Term:
    text: str
    exact: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    text: str


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Term, Phrase, And, Or, Not]


@dataclass(frozen=True)
class ParsedQuery:
    """A query as the parser understood it; everything downstream reads this, never the raw text."""

    root: Node | None
    lang: Lang | None = None
    """The language filter written in the query (lang:ru), if any."""

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The words the query looks for, in order: operators, filters and negated words left out.
        A hyphenated word comes as its parts."""
        return tuple(word.text for node in _positive(self.root) for word in words(node.text)
                     if not word.compound)

    @property
    def text(self) -> str:
        """The query as plain text (what the sentence encoder reads)."""
        return " ".join(self.words)

    @cached_property
    def content_words(self) -> tuple[str, ...]:
        """The words that carry the query's topic: its words less stop words."""
        return tuple(word for word in self.words if not is_stopword(word))

    @cached_property
    def natural(self) -> bool:
        """Plain words, and perhaps a quoted title among them: the query a person types into a
        search box (ranked by fusion). A phrase alone, or any operator, =word or prefix*, asks
        for exactly that."""
        root = self.root
        if isinstance(root, Term):
            return _is_natural(root)
        return isinstance(root, Or) and all(_is_natural(item) or isinstance(item, Phrase) for item in root.items) \
            and any(isinstance(item, Term) for item in root.items)


def _positive(node: Node | None) -> Iterator[Term | Phrase]:
    """The words and phrases of a tree that are not negated, in order."""
    if isinstance(node, (Term, Phrase)):
        yield node
    elif isinstance(node, (And, Or)):
        for item in node.items:
            yield from _positive(item)


def _is_natural(node: Node) -> bool:
    if isinstance(node, Term):
        return not node.exact and not node.prefix
    return isinstance(node, Or) and all(_is_natural(item) for item in node.items)


_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
MAX_DEPTH = 64
"""Deeper brackets are ignored, so no input can exhaust the stack."""


def parse(text: str) -> ParsedQuery:
    """Parse query text; never raises."""
    lang: Lang | None = None
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        match = re.fullmatch(r"lang:(en|ru)", token, re.IGNORECASE)
        if match:
            lang = match.group(1).lower()  # type: ignore[assignment]
        else:
            tokens.append(token)
    parser = _Parser(tokens)
    return ParsedQuery(parser.parse(), lang)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node | None:
        items: list[Node] = []
        while self.peek() is not None:
            node = self.or_expr()
            if node is not None:
                items.append(node)
            elif self.peek() is not None:
                self.take()  # a stray ")" or operator: skip it
        return _combine(Or, items)

    def or_expr(self) -> Node | None:
        items: list[Node] = []
        while True:
            node = self.and_expr()
            if node is not None:
                items.append(node)
            token = self.peek()
            if token in ("OR", "||"):
                self.take()
                continue
            if token is None or token == ")" or node is None:
                break
        return _combine(Or, items)

    def and_expr(self) -> Node | None:
        items: list[Node] = []
        node = self.unary()
        if node is not None:
            items.append(node)
        while self.peek() in ("AND", "&&"):
            self.take()
            node = self.unary()
            if node is not None:
                items.append(node)
        return _combine(And, items)

    def unary(self) -> Node | None:
        negations = 0
        while (token := self.peek()) is not None:
            if token == "NOT":
                self.take()
            elif token.startswith("-") and len(token) > 1:
                self.tokens[self.i] = token[1:]
            else:
                break
            negations += 1
        if token is None or token == ")" or token in ("OR", "||", "AND", "&&"):
            return None
        item = self.atom()
        if item is None:
            return None
        return Not(item) if negations % 2 else item

    def atom(self) -> Node | None:
        token = self.take()
        if token == "(":
            if self.depth >= MAX_DEPTH:
                return None
            self.depth += 1
            node = self.or_expr()
            self.depth -= 1
            if self.peek() == ")":
                self.take()
            return node
        if token.startswith('"'):
            phrase = token.strip('"')
            return Phrase(phrase) if _HAS_WORD.search(phrase) else None
        exact = token.startswith("=")
        prefix = token.endswith("*")
        word = _EDGE_PUNCTUATION.sub("", token)
        if not _HAS_WORD.search(word):
            return None
        return Term(word, exact=exact, prefix=prefix and not exact)


def _combine(kind: type[And] | type[Or], items: list[Node]) -> Node | None:
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return kind(tuple(items))
