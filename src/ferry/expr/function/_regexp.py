"""``REGEXP``/``RLIKE``, ``REGEXP_REPLACE``, ``REGEXP_SUBSTR``, ``REGEXP_INSTR``.

MariaDB matches with PCRE2 in UTF mode with Unicode properties (``\\w`` and ``\\d`` match
``中`` and ``٣``), case-insensitively under ``utf8mb4_general_ci`` (``'ABC' REGEXP 'b'`` is 1;
accents still count: ``'ä' REGEXP 'a'`` is 0). Ferry translates the pattern to Python's ``re``,
which has the same Unicode defaults, and refuses (:class:`RegexError`) the PCRE constructs it
cannot map faithfully, naming them: ``\\p{..}``, ``\\X``, ``\\K``, ``\\G``, recursion,
conditionals, backtracking verbs, branch reset, inline flags that are not at the start, and
the POSIX classes other than ``alpha digit alnum space word xdigit blank``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ferry.expr.function._nodes import Fn, Node, Spec, Specializer, fail, rule
from ferry.expr.function._strings import _call, _strings
from ferry.expr.function._types import INT_T, STR_T

__all__ = ["RegexError", "check_pattern", "compile_regex"]


class RegexError(ValueError):
    """A pattern that is invalid, or that uses a PCRE construct Ferry does not translate."""


_HSPACE = "\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000"
_VSPACE = "\\n\\x0b\\f\\r\\x85\\u2028\\u2029"
_ESCAPES = {
    "z": "\\Z",
    "Z": "(?=\\n?\\Z)",
    "h": f"[{_HSPACE}]",
    "H": f"[^{_HSPACE}]",
    "v": f"[{_VSPACE}]",
    "V": f"[^{_VSPACE}]",
    "N": "[^\\n]",
    "R": f"(?:\\r\\n|[{_VSPACE}])",
    "e": "\\x1b",
    "E": "",
}
_CLASS_ESCAPES = {"h": _HSPACE, "v": _VSPACE, "E": ""}
_PASS = set("AbBdDwWsSafnrt")
_CLASS_PASS = set("dDwWsSafnrtb")
_POSIX = {
    "alpha": "[^\\W\\d_]",
    "digit": "\\d",
    "alnum": "[^\\W_]",
    "space": "\\s",
    "word": "\\w",
    "xdigit": "[0-9A-Fa-f]",
    "blank": f"[{_HSPACE}]",
}
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_GROUP_NAME = re.compile(r"[A-Za-z_]\w*")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def _unsupported(what: str, pattern: str) -> RegexError:
    return RegexError(f"regular expression {pattern!r} uses {what}, which Ferry does not support")


class _Translator:
    """One left-to-right pass over a PCRE pattern, producing Python ``re`` syntax."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        self.flags = re.IGNORECASE

    def run(self) -> tuple[str, int]:
        self._leading_flags()
        while self.i < len(self.src):
            ch = self.src[self.i]
            if ch == "\\":
                self.out.append(self._escape(in_class=False))
            elif ch == "[":
                self.out.append(self._class())
            elif ch == "(":
                self.out.append(self._group())
            elif ch == "{":
                self.out.append(self._brace())
            else:
                self.out.append(ch)
                self.i += 1
        return "".join(self.out), self.flags

    def _leading_flags(self) -> None:
        while match := re.match(r"\(\?([imsx]*)(?:-([imsx]+))?\)", self.src[self.i :]):
            for letter in match.group(1):
                self.flags |= _FLAGS[letter]
            for letter in match.group(2) or "":
                self.flags &= ~_FLAGS[letter]
            self.i += match.end()

    def _brace(self) -> str:
        match = _QUANTIFIER.match(self.src, self.i)
        if match:
            self.i = match.end()
            return match.group()
        self.i += 1
        return "\\{"

    def _hex_escape(self) -> str:
        rest = self.src[self.i :]
        match = re.match(r"x\{([0-9A-Fa-f]+)\}|x([0-9A-Fa-f]{0,2})", rest)
        assert match is not None
        self.i += match.end()
        code = int(match.group(1) or match.group(2) or "0", 16)
        if code > 0x10FFFF:
            raise RegexError(f"character code {code:#x} is too large in regular expression {self.src!r}")
        return re.escape(chr(code))

    def _escape(self, in_class: bool) -> str:
        self.i += 1
        if self.i >= len(self.src):
            raise RegexError(f"regular expression {self.src!r} ends with a lone backslash")
        ch = self.src[self.i]
        if ch == "x":
            return self._hex_escape()
        if not ch.isalnum() or (ch.isdigit() and not in_class):
            self.i += 1
            return "\\" + ch
        if ch in "Qk" and not in_class:
            return self._quoted() if ch == "Q" else self._named_backref()
        return self._letter_escape(ch, in_class)

    def _quoted(self) -> str:
        end = self.src.find("\\E", self.i)
        end = len(self.src) if end < 0 else end
        literal = self.src[self.i + 1 : end]
        self.i = end + 2
        return re.escape(literal)

    def _letter_escape(self, ch: str, in_class: bool) -> str:
        self.i += 1
        if ch in (_CLASS_PASS if in_class else _PASS):
            return "\\" + ch
        mapped = (_CLASS_ESCAPES if in_class else _ESCAPES).get(ch)
        if mapped is not None and not (ch == "N" and self.src.startswith("{", self.i)):
            return mapped
        raise _unsupported(f"the escape \\{ch}", self.src)

    def _named_backref(self) -> str:
        match = re.match(r"k(?:<(\w+)>|\{(\w+)\}|'(\w+)')", self.src[self.i :])
        if not match:
            raise _unsupported("\\k without a group name", self.src)
        self.i += match.end()
        return f"(?P={match.group(1) or match.group(2) or match.group(3)})"

    def _group(self) -> str:
        rest = self.src[self.i :]
        if rest.startswith("(*"):
            raise _unsupported("a backtracking verb (*...)", self.src)
        if not rest.startswith("(?"):
            self.i += 1
            return "("
        named = re.match(r"\(\?(?:P?<|')([A-Za-z_]\w*)[>']", rest)
        if named:
            self.i += named.end()
            return f"(?P<{named.group(1)}>"
        plain = re.match(r"\(\?(?::|=|!|<=|<!|>|#|P=|[imsx]*(?:-[imsx]+)?:)", rest)
        if plain:
            self.i += plain.end()
            return plain.group()
        if re.match(r"\(\?[imsx]*(?:-[imsx]*)?\)", rest):
            raise _unsupported("an inline flag setting that is not at the start", self.src)
        raise _unsupported(f"the group syntax {rest[:4]!r}", self.src)

    def _class(self) -> str:
        special = re.match(r"\[\[:([<>]):\]\]", self.src[self.i :])
        if special:
            self.i += special.end()
            return "\\b(?=\\w)" if special.group(1) == "<" else "\\b(?<=\\w)"
        self.i += 1
        negate = self.src.startswith("^", self.i)
        self.i += negate
        items, posix = self._class_items()
        alternatives = ([f"[{''.join(items)}]"] if items else []) + posix
        if not posix:
            return f"[{'^' if negate else ''}{''.join(items)}]"
        union = "|".join(alternatives)
        return f"(?:(?!{union})[\\s\\S])" if negate else f"(?:{union})"

    def _class_items(self) -> tuple[list[str], list[str]]:
        items: list[str] = []
        posix: list[str] = []
        first = True
        while True:
            if self.i >= len(self.src):
                raise RegexError(f"missing terminating ] for a character class in {self.src!r}")
            ch = self.src[self.i]
            if ch == "]" and not first:
                self.i += 1
                return items, posix
            first = False
            if ch == "[" and (match := re.match(r"\[:(\^?)(\w+):\]", self.src[self.i :])):
                posix.append(self._posix(match.group(2), bool(match.group(1))))
                self.i += match.end()
            elif ch == "\\":
                items.append(self._escape(in_class=True))
            else:
                items.append("\\" + ch if ch in "[&~|]" else ch)
                self.i += 1

    def _posix(self, name: str, negate: bool) -> str:
        if name not in _POSIX:
            raise _unsupported(f"the POSIX class [:{name}:]", self.src)
        return f"(?!{_POSIX[name]})[\\s\\S]" if negate else _POSIX[name]


@lru_cache(maxsize=512)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """The Python regex for a MariaDB (PCRE2) ``pattern``, matching case-insensitively.

    Raises:
        RegexError: the pattern is invalid or uses a construct Ferry does not translate.
    """
    text, flags = _Translator(pattern).run()
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise RegexError(f"invalid regular expression {pattern!r}: {exc}") from None


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return compile_regex(pattern)
    except RegexError as exc:
        raise fail(str(exc)) from None


def _replacement(template: str, match: re.Match[str]) -> str:
    """MariaDB's replacement text: ``\\N`` is group N (empty if absent), ``\\c`` is ``c``."""
    out = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt.isdigit():
                group = int(nxt)
                out.append((match.group(group) or "") if group <= (match.re.groups) else "")
            else:
                out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _regexp_replace(subject: str, pattern: str, template: str) -> str:
    regex = _regex(pattern)
    out = []
    pos = 0
    while (match := regex.search(subject, pos)) is not None and match.end() > match.start():
        out.append(subject[pos : match.start()])
        out.append(_replacement(template, match))
        pos = match.end()
    out.append(subject[pos:])
    return "".join(out)


def _regexp_substr(subject: str, pattern: str) -> str:
    match = _regex(pattern).search(subject)
    return match.group() if match else ""


def _regexp_instr(subject: str, pattern: str) -> int:
    match = _regex(pattern).search(subject)
    return match.start() + 1 if match else 0


def _regexp(subject: str, pattern: str) -> int:
    return int(_regex(pattern).search(subject) is not None)


_COMPUTE: dict[str, tuple[Any, Any]] = {
    "regexp": (_regexp, INT_T),
    "regexp_replace": (_regexp_replace, STR_T),
    "regexp_substr": (_regexp_substr, STR_T),
    "regexp_instr": (_regexp_instr, INT_T),
}


@rule(*_COMPUTE)
def _regexp_rule(node: Node, sx: Specializer) -> Spec:
    compute, t = _COMPUTE[node.op]
    fns: list[Fn] = _strings(sx, node.args)
    return _call(fns, compute), t


def check_pattern(node: Node) -> str | None:
    """The error message for a constant pattern node that cannot be compiled, else None."""
    if node.op != "const" or not isinstance(node.data[0], str):
        return None
    try:
        compile_regex(node.data[0])
    except RegexError as exc:
        return str(exc)
    return None
