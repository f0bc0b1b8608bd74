"""A small SPARQL 1.1 lexer and the group-level facts the spatial rewrite needs.

Oxigraph exposes no parser or algebra, and rdflib's ``translateAlgebra`` writes invalid
SPARQL, so the query text is tokenised here (strings, IRIs and comments are single
tokens, so nothing inside them is ever mistaken for syntax) and edited by token spans.
Only what the rewrite needs is recognised: the prologue's prefixes, ``{ }`` groups,
``FILTER`` constraints split into top-level ``&&`` conjuncts, and the simple triple
patterns written directly in a group (which certainly bind their variables).
Anything unusual makes a group "not understood", and the query then runs unmodified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
               |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][\w\u00B7]+)
  | (?P<bnode>_:[\w\-.]*[\w\-])
  | (?P<pname>(?:[^\W\d_](?:[\w\-.]*[\w\-])?)?:(?:[\w\-:%](?:[\w\-.:%]*[\w\-:%])?)?)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<number>[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?))
  | (?P<name>[A-Za-z_][\w]*)
  | (?P<op>\^\^|&&|\|\||!=|<=|>=)
  | (?P<punct>[{}()\[\],;.*/|^!=<>+\-?])
    """,
    re.VERBOSE,
)

#: Keywords that start a graph pattern which is not a triples block.
_BREAKS = {"FILTER", "OPTIONAL", "MINUS", "GRAPH", "SERVICE", "BIND", "VALUES", "UNION"}
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "name" else ""


@dataclass
class Conjunct:
    """``FUNC(arg, arg)`` at the top level of a FILTER's ``&&`` chain."""

    function: str                 # full IRI
    args: tuple[Token, Token]     # each a var, or a string token for a typed literal
    arg_datatypes: tuple[str | None, str | None]
    start: int                    # character span of the conjunct in the query
    end: int


@dataclass
class Filter:
    start: int                    # from the FILTER keyword
    end: int                      # to the end of its constraint
    conjuncts: list[Conjunct]
    n_conjuncts: int


@dataclass
class Group:
    open: int                     # character offset of "{"
    close: int                    # character offset of "}"
    filters: list[Filter] = field(default_factory=list)
    #: resolved terms, each valid SPARQL text on its own: ``?x``, ``<iri>``, literals
    #: (``"v"@en``, ``"v"^^<datatype>``), numbers, blank nodes
    triples: list[tuple[str, str, str]] = field(default_factory=list)
    #: character spans of statements made of one plain triple (``s p o .``)
    statements: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)


class SparqlSyntaxError(ValueError):
    """The lexer met a character it cannot place."""


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text`` without whitespace and comments."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SparqlSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        kind = m.lastgroup or ""
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), m.start(), m.end()))
        pos = m.end()
    return tokens


def prefixes(tokens: list[Token]) -> tuple[dict[str, str], str | None]:
    """PREFIX declarations (name -> IRI) and the BASE IRI of the prologue."""
    found: dict[str, str] = {}
    base = None
    i = 0
    while i < len(tokens):
        word = tokens[i].upper
        if word == "PREFIX" and i + 2 < len(tokens) and tokens[i + 2].kind == "iri":
            found[tokens[i + 1].text[:-1]] = tokens[i + 2].text[1:-1]
            i += 3
        elif word == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            base = tokens[i + 1].text[1:-1]
            i += 2
        else:
            break
    return found, base


def resolve(token: Token, prefix_map: dict[str, str]) -> str | None:
    """Full IRI of an IRI or prefixed-name token (None when it is neither or unknown)."""
    if token.kind == "iri":
        return token.text[1:-1]
    if token.kind == "pname":
        head, _, local = token.text.partition(":")
        if head in prefix_map:
            return prefix_map[head] + re.sub(r"\\(.)", r"\1", local)
    if token.kind == "name" and token.text == "a":
        return RDF_TYPE
    return None


def _matching(tokens: list[Token], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    opener, closer = tokens[i].text, pairs[tokens[i].text]
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].kind == "punct":
            if tokens[j].text == opener:
                depth += 1
            elif tokens[j].text == closer:
                depth -= 1
                if depth == 0:
                    return j
    raise SparqlSyntaxError(f"unbalanced {opener!r} at offset {tokens[i].start}")


def has_graph_variable(tokens: list[Token]) -> bool:
    """Whether a ``GRAPH ?g`` pattern or a FROM clause is present (both see every graph)."""
    for i, tok in enumerate(tokens):
        if tok.upper == "GRAPH" and i + 1 < len(tokens) and tokens[i + 1].kind == "var":
            return True
        if tok.upper == "FROM":
            return True
    return False


def groups(tokens: list[Token], prefix_map: dict[str, str]) -> list[Group]:
    """Every ``{ }`` group that directly holds a FILTER, with its simple triples."""
    found: list[Group] = []
    parens = 0
    for i, tok in enumerate(tokens):
        if tok.kind == "punct" and tok.text in "()":
            parens += 1 if tok.text == "(" else -1
        if tok.kind != "punct" or tok.text != "{":
            continue
        if parens or (i > 0 and tokens[i - 1].upper == "EXISTS"):
            continue                            # an EXISTS pattern: evaluated per row
        end = _matching(tokens, i)
        group = _read_group(tokens, i, end, prefix_map)
        if group is not None and group.filters:
            found.append(group)
    return found


def _read_group(tokens: list[Token], i: int, end: int,
                prefix_map: dict[str, str]) -> Group | None:
    group = Group(tokens[i].start, tokens[end].start)
    segment: list[Token] = []
    j = i + 1
    while j < end:
        tok = tokens[j]
        word = tok.upper
        if tok.kind == "punct" and tok.text in "{(":
            _flush(segment, group, prefix_map)
            j = _matching(tokens, j) + 1
            continue
        if word in _BREAKS:
            _flush(segment, group, prefix_map)
            if word == "FILTER":
                j = _read_filter(tokens, j, group, prefix_map)
            else:
                j += 1
            continue
        if tok.kind == "name" and word == "SELECT":   # a sub-select's own braces: not a group
            return None
        segment.append(tok)
        j += 1
    _flush(segment, group, prefix_map)
    return group


def _read_filter(tokens: list[Token], j: int, group: Group, prefix_map: dict[str, str]) -> int:
    """Record the FILTER at ``j``; return the index after its constraint."""
    k = j + 1
    if k >= len(tokens):
        return k
    if tokens[k].kind == "punct" and tokens[k].text == "(":
        close = _matching(tokens, k)
        inner = tokens[k + 1:close]
    elif tokens[k].kind in ("iri", "pname", "name") and k + 1 < len(tokens) \
            and tokens[k + 1].text == "(":
        close = _matching(tokens, k + 1)
        inner = tokens[k:close + 1]
    else:                                       # [NOT] EXISTS { ... }: skip, never rewritten
        while k < len(tokens) and tokens[k].text != "{":
            k += 1
        return _matching(tokens, k) + 1 if k < len(tokens) else k
    parts = _split_and(inner)
    conjuncts = [c for c in (_conjunct(p, prefix_map) for p in parts) if c is not None]
    group.filters.append(Filter(tokens[j].start, tokens[close].end, conjuncts, len(parts)))
    return close + 1


def _split_and(inner: list[Token]) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in inner:
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
        if depth == 0 and tok.kind == "op" and tok.text == "&&":
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _conjunct(part: list[Token], prefix_map: dict[str, str]) -> Conjunct | None:
    start, end = (part[0].start, part[-1].end) if part else (0, 0)
    while len(part) >= 2 and part[0].text == "(" and part[-1].text == ")":
        try:
            if _matching(part, 0) != len(part) - 1:
                break
        except SparqlSyntaxError:
            return None
        part = part[1:-1]
    if len(part) < 5 or part[1].text != "(" or part[-1].text != ")":
        return None
    function = resolve(part[0], prefix_map)
    if function is None:
        return None
    args: list[tuple[Token, str | None]] = []
    rest = part[2:-1]
    pieces: list[list[Token]] = [[]]
    for tok in rest:
        if tok.kind == "punct" and tok.text == ",":
            pieces.append([])
        else:
            pieces[-1].append(tok)
    if len(pieces) != 2:
        return None
    for piece in pieces:
        if len(piece) == 1 and piece[0].kind == "var":
            args.append((piece[0], None))
        elif len(piece) == 3 and piece[0].kind == "string" and piece[1].text == "^^":
            datatype = resolve(piece[2], prefix_map)
            if datatype is None:
                return None
            args.append((piece[0], datatype))
        else:
            return None
    return Conjunct(function, (args[0][0], args[1][0]), (args[0][1], args[1][1]), start, end)


def _flush(segment: list[Token], group: Group, prefix_map: dict[str, str]) -> None:
    """Parse a triples block made of plain terms; anything else is left alone."""
    if not segment:
        return
    toks = list(segment)
    segment.clear()
    i = 0
    subject: str | None = None
    predicate: str | None = None
    start = 0
    listed = False
    while i < len(toks):
        tok = toks[i]
        if tok.kind == "punct" and tok.text in ".;,":
            i += 1
            continue
        first = i
        term, i = _term(toks, i, prefix_map)
        if term is None:
            return                              # paths, blank-node lists, collections
        if subject is None:
            subject, start, listed = term, toks[first].start, False
        elif predicate is None:
            predicate = term
        else:
            triple = (subject, predicate, term)
            group.triples.append(triple)
            nxt = toks[i].text if i < len(toks) else "."
            if nxt == "." and not listed:
                end = toks[i].end if i < len(toks) else toks[i - 1].end
                group.statements.setdefault(triple, (start, end))
            if nxt == ".":
                subject = predicate = None
            elif nxt == ";":
                predicate, listed = None, True
            elif nxt == ",":
                listed = True
            else:
                return


def _term(toks: list[Token], i: int, prefix_map: dict[str, str]) -> tuple[str | None, int]:
    tok = toks[i]
    if tok.kind == "var":
        return "?" + tok.text[1:], i + 1
    if tok.kind in ("iri", "pname") or (tok.kind == "name" and tok.text == "a"):
        iri = resolve(tok, prefix_map)
        return (None, i + 1) if iri is None else ("<" + iri + ">", i + 1)
    if tok.kind == "string":
        if i + 1 < len(toks) and toks[i + 1].kind == "lang":
            return tok.text + toks[i + 1].text, i + 2
        if i + 2 < len(toks) and toks[i + 1].text == "^^":
            datatype = resolve(toks[i + 2], prefix_map)
            return (None if datatype is None else f"{tok.text}^^<{datatype}>"), i + 3
        return tok.text, i + 1
    if tok.kind in ("number", "bnode") or (tok.kind == "name" and tok.text in ("true", "false")):
        return tok.text, i + 1
    return None, i + 1


def connected(triples: list[tuple[str, str, str]], start: str,
              blocked: set[str]) -> list[tuple[str, str, str]]:
    """The triples linked to variable ``start`` through shared variables, in their order.

    Triples holding a ``blocked`` variable are never taken (nor crossed).
    """
    usable = [t for t in triples if not any(term in blocked for term in t)]
    reached = {start}
    taken: set[int] = set()
    grew = True
    while grew:
        grew = False
        for k, triple in enumerate(usable):
            if k not in taken and any(term in reached for term in triple):
                taken.add(k)
                reached.update(term for term in triple if term.startswith("?"))
                grew = True
    return [usable[k] for k in sorted(taken)]
