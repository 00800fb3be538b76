"""Placeholders checked against real records: a ``{field}`` no sampled record has is a warning.

A typo such as ``{{items.outerID}}`` for ``items.outerId`` compiles and validates, then maps to
``null`` in every record. Given sample records (one live page, or ledger rows), each record
placeholder of the scheme is looked up in them the way a run resolves it:

- ``target.request`` values (templates, ``_function`` expressions and lookups' ``where``
  values, nested ``children`` included) against the rows the mapping sees: beat-flattened, so
  ``items.sku_id`` reads the element under ``items``, and ``items_sku_id`` does too; inside an
  ``array`` field a bare ``{sku_id}`` is also a field of that array's elements;
- source ``condition`` fields against the records as the source returned them.

A path the source metadata declares in its ``response`` fields counts as known too. Variables
(``{{LAST_SYNC_TIME}}``, ``{{PAGE}}`` ...) are not record placeholders. Each warning names the
scheme path and the placeholder and suggests the nearest paths of the sample (a match that only
differs in case first, then :func:`difflib.get_close_matches`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.errors import Issue
from ferry.expr.placeholders import scan
from ferry.scheme.metadata import FieldSpec, SourceMetadata
from ferry.transform.plan import Plan

__all__ = [
    "PlaceholderUse",
    "declared_paths",
    "has_path",
    "missing_placeholders",
    "placeholder_uses",
    "record_paths",
]

MAX_PATHS = 5000
"""Most distinct paths collected from a sample (a hostile record can nest without end)."""
MAX_DEPTH = 8
"""Deepest path collected from a sample, in segments."""


@dataclass(frozen=True)
class PlaceholderUse:
    """One record placeholder of the scheme, where it is written and how a run resolves it."""

    path: str
    """Scheme path of the value or rule (``target.request[3].value``)."""
    name: str
    """The dotted record path it reads (``items.outerId``)."""
    raw: str
    """As written (``{{items.outerId}}``; a condition's field as it is)."""
    scopes: tuple[str, ...] = ()
    """Arrays whose elements a bare name may also be a field of (inside ``array`` fields)."""
    raw_records: bool = False
    """Resolved against the records as fetched (a ``condition``), not the flattened rows."""


def _raw_forms(source: Any) -> dict[str, str]:
    """Each placeholder name of a value's text, as written (``{{a.b}}``), first occurrence."""
    forms: dict[str, str] = {}
    if isinstance(source, str):
        for ph in scan(source):
            forms.setdefault(ph.name, ph.raw)
    return forms


def _node_uses(node: Any, scopes: tuple[str, ...]) -> Iterator[PlaceholderUse]:
    value = node.value
    if value is not None and value.references:
        forms = _raw_forms(value.source)
        for name in sorted(value.references):
            yield PlaceholderUse(value.path, name, forms.get(name, "{" + name + "}"), scopes)
    inner = scopes + tuple(node.array_candidates)
    for child in node.children:
        yield from _node_uses(child, inner)


def placeholder_uses(plan: Plan) -> list[PlaceholderUse]:
    """Every record placeholder of ``target.request`` and every source ``condition`` field."""
    uses = [use for node in plan.target.request.nodes for use in _node_uses(node, ())]
    for i, group in enumerate(plan.source.meta.condition):
        for j, rule in enumerate(group):
            path = f"source.condition[{i}][{j}].field"
            uses.append(PlaceholderUse(path, rule.field, rule.field, raw_records=True))
    return uses


def has_path(record: Any, path: str) -> bool:
    """Whether ``record`` holds ``path`` (its value may be ``None``), resolved as a run resolves
    it: a literal dotted key, nested mappings, a list index or every element of a list, and a
    flattened row's ``items_sku_id`` for ``items.sku_id``."""
    if not isinstance(record, Mapping):
        return False
    if path in record:
        return True
    segments = path.split(".")
    if _walk(record, segments):
        return True
    if len(segments) > 1:
        return "_".join(segments) in record
    return any(
        isinstance(record.get(path[:i]), Mapping) and path[i + 1 :] in record[path[:i]]
        for i, ch in enumerate(path)
        if ch == "_" and 0 < i < len(path) - 1
    )


def _walk(value: Any, segments: Sequence[str]) -> bool:
    if not segments:
        return True
    head, rest = segments[0], segments[1:]
    if isinstance(value, Mapping):
        return head in value and _walk(value[head], rest)
    if isinstance(value, list):
        if head.isdigit():
            index = int(head)
            return index < len(value) and _walk(value[index], rest)
        return any(_walk(element, segments) for element in value)
    return False


def record_paths(records: Iterable[Any]) -> list[str]:
    """Every dotted path of the records' fields (a list's elements share their list's path),
    in the order first met; at most :data:`MAX_PATHS`."""
    found: dict[str, None] = {}
    for record in records:
        _collect(record, "", 0, found)
        if len(found) >= MAX_PATHS:
            break
    return list(found)


def _collect(value: Any, prefix: str, depth: int, found: dict[str, None]) -> None:
    if depth >= MAX_DEPTH or len(found) >= MAX_PATHS:
        return
    if isinstance(value, list):
        for element in value:
            _collect(element, prefix, depth, found)
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        found.setdefault(path, None)
        _collect(item, path, depth + 1, found)


def declared_paths(meta: SourceMetadata | None) -> set[str]:
    """The dotted paths the source metadata declares in ``response`` (children nested, or
    linked by ``parent``)."""
    if meta is None:
        return set()
    by_name: dict[str, FieldSpec] = {f.field: f for f in meta.response}

    def prefix_of(spec: FieldSpec, seen: int = 0) -> str:
        parent = by_name.get(spec.parent or "") if spec.parent and seen < 20 else None
        return f"{prefix_of(parent, seen + 1)}{parent.field}." if parent is not None else ""

    out: set[str] = set()

    def visit(spec: FieldSpec, prefix: str) -> None:
        path = prefix + spec.field
        out.add(path)
        for child in spec.children:
            visit(child, path + ".")

    for spec in meta.response:
        visit(spec, prefix_of(spec))
    return out


def _forms(use: PlaceholderUse) -> list[tuple[str, str]]:
    """``(path to look up, prefix to strip from a suggestion)``: the name, then the name as a
    field of each enclosing array's elements (a bare ``{sku_id}`` inside ``items``)."""
    forms = [(use.name, "")]
    forms += [(f"{scope}.{use.name}", f"{scope}.") for scope in use.scopes]
    return forms


SIMILAR = 0.75
"""Least similarity (:class:`difflib.SequenceMatcher` ratio, case ignored) of a suggestion."""
NEAR_BEST = 0.1
"""A suggestion is at most this much less similar than the best one."""


def _suggest(use: PlaceholderUse, known: Sequence[str]) -> list[str]:
    """The paths to suggest for ``use``: one that only differs in case, else the up to three
    most similar (each as written relative to its array, for a bare name inside one)."""
    lowered: dict[str, str] = {}
    for path in known:
        lowered.setdefault(path.lower(), path)
    forms = _forms(use)
    for form, prefix in forms:  # only the case differs: that is the one
        hit = lowered.get(form.lower())
        if hit is not None:
            return [hit.removeprefix(prefix)]
    scored: dict[str, float] = {}
    for form, prefix in forms:
        _score(form, prefix, known, scored)
    if not scored:
        return []
    best = max(scored.values())
    ranked = sorted(scored, key=lambda p: -scored[p])
    return [p for p in ranked if scored[p] >= max(SIMILAR, best - NEAR_BEST)][:3]


def _score(form: str, prefix: str, known: Sequence[str], scored: dict[str, float]) -> None:
    """Add the known paths under ``prefix`` at least :data:`SIMILAR` to ``form`` to ``scored``
    (as written relative to ``prefix``), with their similarity."""
    matcher = difflib.SequenceMatcher(a=form.lower())
    for path in known:
        if not path.startswith(prefix):
            continue
        matcher.set_seq2(path.lower())
        if matcher.real_quick_ratio() >= SIMILAR and matcher.quick_ratio() >= SIMILAR:
            shown = path.removeprefix(prefix)
            scored[shown] = max(scored.get(shown, 0.0), matcher.ratio())


def missing_placeholders(
    plan: Plan,
    *,
    rows: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]] | None = None,
    declared: Iterable[str] = (),
) -> list[Issue]:
    """A warning for each placeholder (and ``condition`` field) no sampled record has.

    Args:
        plan: The scheme's compiled plan.
        rows: The sampled rows as the target mapping sees them (beat-flattened ledger content).
        records: The sampled records as the source returned them (``condition`` fields are
            resolved against these); ``rows`` when omitted.
        declared: Paths known without a sample (:func:`declared_paths` of ``response``).

    Returns:
        One :class:`~ferry.errors.Issue` per (scheme path, placeholder), the scheme path as its
        path; ``[]`` when there are no rows to check against.
    """
    raw = rows if records is None else records
    if not rows and not raw:
        return []
    known_declared = set(declared)
    known_rows = record_paths(rows) + sorted(known_declared)
    known_raw = record_paths(raw) + sorted(known_declared)
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for use in placeholder_uses(plan):
        against = raw if use.raw_records else rows
        if (use.path, use.name) in seen or _found(use, against, known_declared):
            continue
        seen.add((use.path, use.name))
        issues.append(_issue(use, known_raw if use.raw_records else known_rows))
    return issues


def _found(use: PlaceholderUse, records: Sequence[Mapping[str, Any]], declared: set[str]) -> bool:
    forms = [form for form, _ in _forms(use)]
    if any(form in declared for form in forms):
        return True
    return any(has_path(record, form) for record in records for form in forms)


def _issue(use: PlaceholderUse, known: Sequence[str]) -> Issue:
    what = "condition field" if use.raw_records else "placeholder"
    message = f"{what} {use.raw} is in no sampled record"
    if use.raw_records:
        message += " (the rule tests a value that is always missing)"
    else:
        message += " (it maps to null in every record)"
    near = _suggest(use, known)
    hint = (
        "did you mean " + " or ".join(near) + "?"
        if near
        else "check the spelling against the source's records (`ferry preview` shows them), "
        "or declare the field in the source metadata's response"
    )
    return Issue(use.path, message, None, hint)
