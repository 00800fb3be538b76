"""What a reader of a console page sees that is the console's own words, and what is not translated.

A page marks its data (ids, names, record content, engine messages, another component's
answer) with ``translate="no"``, the HTML attribute for text that must not be translated;
``<code>`` and ``<pre>`` hold technical text (API names, metadata keys, JSON); an element with
a ``lang`` attribute is in that language (the language switch). Everything else is a label,
a counter name or a message, and must be in the page's language:

- in Chinese, no English word, except the few technical tokens of :data:`ALLOWED`, acronyms
  (``API``, ``SQL``, ``ID``), tokens with digits (``p95``, ``UTC+08:00``) and dotted paths
  (``target.request[2]``);
- in English, no Chinese character;
- in both, no raw key (``filtered_out``, ``msg.replayed``): a label that was never looked up.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["ALLOWED", "untranslated", "visible_texts"]

ALLOWED = frozenset({"Ferry", "ms"})
"""English tokens a Chinese page may show: the product's name and the millisecond unit."""
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
DATA_TAGS = frozenset({"code", "pre", "script", "style", "title"})
"""Elements whose text is technical or not shown (``title``: the tab, tooltips of chart points)."""
SHOWN_ATTRS = ("title", "placeholder", "aria-label", "alt", "data-confirm")
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-+:/\[\]{}=*]*")
RAW_KEY = re.compile(r"^[a-z]+(_[a-z0-9]+)+$|^(msg|rule|kind|level|notice)\.[a-z_]+$")


class _Walker(HTMLParser):
    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.texts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def _data(self, tag: str, attrs: dict[str, str | None]) -> bool:
        other_lang = attrs.get("lang") and not str(attrs["lang"]).startswith(self.lang)
        return self._skipping() or tag in DATA_TAGS or attrs.get("translate") == "no" or bool(other_lang)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        skip = self._data(tag, named)
        if not skip:
            self.texts += [str(named[a]) for a in SHOWN_ATTRS if named.get(a)]
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if not self._data(tag, named):
            self.texts += [str(named[a]) for a in SHOWN_ATTRS if named.get(a)]

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._skipping():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str, lang: str) -> list[str]:
    """The console's own texts of a page (text nodes and shown attributes), data left out."""
    walker = _Walker(lang)
    walker.feed(html)
    walker.close()
    return walker.texts


def _technical(token: str) -> bool:
    token = token.strip(".:-")
    return (
        token in ALLOWED
        or any(ch.isdigit() for ch in token)
        or (token.isupper() and len(token) > 1)
        or bool(re.search(r"[a-z]\.[a-z]|[\[{=/]", token))
    )


def untranslated(html: str, lang: str) -> list[str]:
    """Every text of the page that is not in ``lang`` (``zh`` or ``en``), with the offending part."""
    found = []
    for text in visible_texts(html, lang):
        words = WORD.findall(text)
        raw = [w for w in words if RAW_KEY.match(w.strip(".:"))]
        if lang == "zh":
            bad = raw + [w for w in words if not _technical(w) and w not in raw]
        else:
            bad = raw + CJK.findall(text)
        if bad:
            found.append(f"{text!r} ({', '.join(dict.fromkeys(bad))})")
    return found
