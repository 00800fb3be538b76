"""Data-quality rules: compiled once into the plan, judged per record on each side.

A scheme's ``quality`` block lists rules per side; each names one field, one check and an
action::

    quality:
      source:                      # each ledger row, after condition and beatFlat, before it is stored
        - {name: qty-positive, field: items.qty, range: {min: 0}, action: quarantine}
        - {field: created, type: datetime, action: fail_window}
      target:                      # each mapped payload, before it is packed and written
        - {field: FItemID, lookup: {scheme: products, field: FNumber}, action: warn}
        - {field: amount, expr: "_function {amount} >= {paid}", action: quarantine}

Checks: the ``condition`` operators (``eq neq gt egt lt elt like notlike between notnull
isnull in notin``, with the condition's comparison rules), ``required``, ``type`` (``string
int float number bool date datetime``; ``int`` also takes the text of a whole number, ``number``
and ``float`` a numeric text), ``range`` and ``length`` (``{min, max}``, inclusive), ``regex``
(searched, so anchor it with ``^...$`` to match the whole text), ``enum`` (compared as text),
``unique_in_window`` (no earlier record of the same window had the value), ``lookup`` (the value
is ``content.<field>`` of a row of another scheme's ledger, through the run's lookup index) and
``expr`` (a ``_function`` expression over the record that must be true). A missing value passes
every check but ``required``, ``notnull``, ``isnull`` and the comparisons of the condition
operators (as in ``condition``, it compares as null): add ``required`` to demand it. A path
that crosses an array (``items.qty`` on a record that was not flattened) is checked on each
element; the first failing one is reported.

Actions, decided by the strongest rule a record breaks (``fail_window`` > ``quarantine`` >
``warn``; every broken rule is counted):

- ``warn``: the record goes on and the rule's count grows;
- ``quarantine``: the record is held in the ledger as ``quarantined``, with the rule, the
  path, the value and the reason, until an operator releases, edits or drops it
  (:mod:`ferry.store.quarantine`, ``ferry quarantine``);
- ``fail_window``: on the source side, the page that holds the record is not stored, the
  window's cursor does not move and the run fails (the ``quality_failed`` alert fires); on the
  target side the window is already committed, so the record is quarantined and the run
  stops delivering and fails the same way.

Compile cost is paid once (:func:`compile_quality`); judging a record that passes costs one
path walk and one test per rule (a simple rule about 0.3 µs, see ``tests/bench/bench_expr.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ferry._text import shown
from ferry.errors import ConfigError, ExpressionError, FatalError, Issue, Quarantined, RecordError
from ferry.expr import CompiledValue, EvalContext, compile_value
from ferry.expr.paths import resolve_path
from ferry.scheme.model import CHECKS, CONDITION_CHECKS, QualityRule, QualitySpec
from ferry.store import Hold
from ferry.transform.condition import _compile_test, _number, _text

__all__ = [
    "ACTION_RANK",
    "QualityJudge",
    "QualityPlan",
    "RuleSet",
    "Verdict",
    "Violation",
    "WindowFailed",
    "compile_quality",
    "quality_issues",
]

ACTION_RANK = {"warn": 0, "quarantine": 1, "fail_window": 2}
"""How strong each action is: a record that breaks several rules takes the strongest."""
_MISSING = object()
_ELEMENTWISE_EXEMPT = frozenset({"required", "notnull", "isnull", "length", "unique_in_window"})
"""Checks that judge a list value as a whole (the others judge each element)."""

Test = Callable[[Any, Mapping[str, Any], "QualityJudge"], "str | None"]
"""A compiled check: ``(value, record, judge) -> reason`` when broken, ``None`` when it holds."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule one record broke."""

    rule: str
    """The rule's name (``quality.source[2]`` when it has none)."""
    side: str
    path: str
    value: Any
    reason: str
    action: str

    def quarantined(self, record_id: str | None = None) -> Quarantined:
        """The :class:`~ferry.errors.Quarantined` this violation holds a record with."""
        return Quarantined(self.rule, self.path, self.value, self.reason, record_id)

    def hold(self) -> Hold:
        """The store's :class:`~ferry.store.Hold` of a record this violation holds."""
        return Hold(self.rule, self.path, self.value, self.reason, self.side)

    def __str__(self) -> str:
        return f"{self.rule}: {self.path} = {shown(self.value, 80)}: {self.reason}"


class WindowFailed(FatalError):
    """A ``fail_window`` rule stopped the run: the window's cursor does not move (source side),
    or delivering stopped (target side). The message starts with ``quality rule <name> failed``
    so the ``quality_failed`` alert and a person reading the run both see which rule."""

    def __init__(self, violation: Violation, record_id: str, where: str) -> None:
        self.violation = violation
        self.record_id = record_id
        super().__init__(
            f"quality rule {violation.rule} failed {where}: record {record_id}: {violation.path} = "
            f"{shown(violation.value, 80)}: {violation.reason}\n  hint: fix the record at the source "
            f"(or the rule in quality.{violation.side}), then run again"
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a record that broke at least one rule: the strongest action and every
    violation (the first of that action first)."""

    action: str
    violations: tuple[Violation, ...]

    @property
    def first(self) -> Violation:
        """The violation that decided the action."""
        return next(v for v in self.violations if v.action == self.action)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule, compiled: where its value sits, its test and its action."""

    name: str
    path: str
    action: str
    check: str
    test: Test
    lookup_scheme: str | None = None


class RuleSet:
    """The compiled rules of one side. Empty (false) when the side has none."""

    __slots__ = ("lookup_schemes", "rules", "side")

    def __init__(self, side: str, rules: Sequence[CompiledRule]) -> None:
        self.side = side
        self.rules = tuple(rules)
        self.lookup_schemes = frozenset(r.lookup_scheme for r in self.rules if r.lookup_scheme)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def violations(self, record: Mapping[str, Any], judge: QualityJudge) -> list[Violation]:
        """Every rule ``record`` breaks (empty when it passes them all)."""
        found: list[Violation] = []
        for rule in self.rules:
            value = resolve_path(record, rule.path)
            reason = rule.test(value, record, judge)
            if reason is not None:
                found.append(Violation(rule.name, self.side, rule.path, value, reason, rule.action))
        return found


@dataclass(frozen=True, slots=True)
class QualityPlan:
    """Both sides' compiled rules (:attr:`Plan.quality <ferry.transform.plan.Plan.quality>`)."""

    source: RuleSet = field(default_factory=lambda: RuleSet("source", ()))
    target: RuleSet = field(default_factory=lambda: RuleSet("target", ()))

    @property
    def lookup_schemes(self) -> frozenset[str]:
        """Schemes the ``lookup`` rules read (their ledgers must be filled first)."""
        return self.source.lookup_schemes | self.target.lookup_schemes


class QualityJudge:
    """Judges records against one side's rules during one run, keeping what the rules need
    between records (the values each ``unique_in_window`` rule saw in the current window) and
    the counts per rule and action (:attr:`tally`: ``{(rule, action): records}``).

    Args:
        rules: The side's compiled rules.
        lookups: The run's lookup provider (for ``lookup`` and ``expr`` rules).
        tz: The scheme's time zone (for ``expr`` rules).
    """

    def __init__(self, rules: RuleSet, lookups: Any = None, tz: Any = None) -> None:
        self.rules = rules
        self.lookups = lookups
        self.tz = tz
        self.window: Any = None
        self.seen: dict[str, dict[str, Any]] = {}
        self.current: Any = None
        """The id of the record being judged (``unique_in_window`` tells records apart by it)."""
        self.tally: Counter[tuple[str, str]] = Counter()

    def enter_window(self, window: Any) -> None:
        """Start judging the records of ``window`` (any hashable key): ``unique_in_window`` forgets."""
        if window != self.window:
            self.window = window
            self.seen = {}

    def judge(self, record: Mapping[str, Any], record_id: Any = None) -> Verdict | None:
        """``None`` when ``record`` passes every rule, else the strongest action and the
        violations (each counted in :attr:`tally`). ``record_id`` tells a record read again
        from another one (for ``unique_in_window``); without it every call is a new record."""
        if not self.rules:
            return None
        self.current = record_id if record_id is not None else object()
        found = self.rules.violations(record, self)
        if not found:
            return None
        for violation in found:
            self.tally[(violation.rule, violation.action)] += 1
        strongest = max(found, key=lambda v: ACTION_RANK[v.action]).action
        return Verdict(strongest, tuple(sorted(found, key=lambda v: -ACTION_RANK[v.action])))

    def judge_all(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Verdict]:
        """The verdicts of ``(record id, record)`` pairs, by id, for those that broke a rule."""
        verdicts = {}
        for rid, record in items:
            verdict = self.judge(record, rid)
            if verdict is not None:
                verdicts[rid] = verdict
        return verdicts

    def rule_counts(self) -> dict[str, dict[str, int]]:
        """:attr:`tally` as ``{rule: {action: records}}``."""
        out: dict[str, dict[str, int]] = {}
        for (rule, action), n in sorted(self.tally.items()):
            out.setdefault(rule, {})[action] = n
        return out


# -- checks -------------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _required(_arg: Any) -> Test:
    def required(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        return "is required (missing or empty)" if value is None or value == "" else None

    return required


_CONDITION_TEXT = {
    "eq": "must equal {}",
    "neq": "must not equal {}",
    "gt": "must be greater than {}",
    "egt": "must be at least {}",
    "lt": "must be less than {}",
    "elt": "must be at most {}",
    "like": "must contain {}",
    "notlike": "must not contain {}",
    "between": "must be between {} (inclusive)",
    "notnull": "must not be empty",
    "isnull": "must be empty",
    "in": "must be one of {}",
    "notin": "must not be one of {}",
}


def _condition(op: str, arg: Any) -> Test:
    expected = ",".join(map(str, arg)) if isinstance(arg, list) and op == "between" else arg
    passes = _compile_test(op, expected)
    reason = _CONDITION_TEXT[op].format(shown(arg, 80))

    def condition(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        return None if passes(value) else reason

    return condition


def _is_int(value: Any) -> bool:
    if type(value) is int:
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value) is not None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | Decimal):
        return not (isinstance(value, float) and not math.isfinite(value))
    number = _number(value) if isinstance(value, str) else None
    return number is not None and number.is_finite()


def _is_date(value: Any) -> bool:
    if isinstance(value, date) and not isinstance(value, datetime):
        return True
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return False
    return True


def _is_datetime(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return False
    return True


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int": _is_int,
    "float": _is_number,
    "number": _is_number,
    "bool": lambda v: isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in ("true", "false")),
    "date": _is_date,
    "datetime": _is_datetime,
}


def _type(arg: str) -> Test:
    ok = _TYPES[arg]
    reason = f"must be of type {arg}"

    def type_check(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        return None if value is None or ok(value) else reason

    return type_check


def _bounds_reason(lo: Any, hi: Any, what: str) -> str:
    if lo is not None and hi is not None:
        return f"{what} must be between {lo} and {hi}"
    return f"{what} must be at least {lo}" if lo is not None else f"{what} must be at most {hi}"


def _range(arg: Mapping[str, Any]) -> Test:
    lo, hi = arg.get("min"), arg.get("max")
    low = -math.inf if lo is None else float(lo)
    high = math.inf if hi is None else float(hi)
    reason = _bounds_reason(lo, hi, "value")

    def in_range(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if value is None:
            return None
        kind = type(value)
        if kind is int or kind is float:
            return None if low <= value <= high else reason
        number = _number(value)
        if number is None:
            return f"{reason} (not a number)"
        return None if low <= number <= high else reason

    return in_range


def _length(arg: Mapping[str, Any]) -> Test:
    lo, hi = arg.get("min"), arg.get("max")
    low, high = (0 if lo is None else int(lo)), (math.inf if hi is None else int(hi))
    reason = _bounds_reason(lo, hi, "length")

    def length(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if value is None:
            return None
        size = len(value) if isinstance(value, str | list | dict) else len(str(value))
        return None if low <= size <= high else f"{reason} (got {size})"

    return length


def _regex(arg: str) -> Test:
    pattern = re.compile(arg)
    reason = f"must match {arg!r}"

    def regex(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if value is None:
            return None
        return None if pattern.search(value if type(value) is str else _text(value)) else reason

    return regex


def _enum(arg: list[Any]) -> Test:
    members = frozenset(_text(v) for v in arg)
    reason = f"must be one of {shown(arg, 120)}"

    def enum(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if value is None:
            return None
        return None if (value if type(value) is str else _text(value)) in members else reason

    return enum


def _unique(name: str) -> Test:
    def unique(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if value is None:
            return None
        seen = judge.seen.setdefault(name, {})
        key = _text(value) if not isinstance(value, list | dict) else shown(value, 10_000)
        first = seen.setdefault(key, judge.current)
        if first != judge.current:  # the same record read again (a re-read) is no repeat
            return f"repeats the value of record {first} of the same window"
        return None

    return unique


def _lookup(arg: Mapping[str, Any]) -> Test:
    scheme, column = str(arg["scheme"]), str(arg["field"])
    reason = f"not found in scheme {scheme!r} (content.{column})"

    def lookup(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if value is None:
            return None
        if judge.lookups is None:
            return f"{reason}: no lookup index in this run"
        found = judge.lookups.equality_finder(scheme, column, (column,))((value,))
        return None if found is not None else reason

    return lookup


def _expr(compiled: CompiledValue) -> Test:
    text = str(compiled.source)

    def expr(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        ctx = EvalContext(row=record, lookups=judge.lookups, **({"tz": judge.tz} if judge.tz else {}))
        try:
            result = compiled.evaluate(ctx)
        except RecordError as exc:
            return f"expression failed: {exc.reason}"
        if result is True or (not isinstance(result, bool) and _number(result) not in (None, 0)):
            return None
        return f"expression is not true: {text}"

    return expr


def _elementwise(test: Test) -> Test:
    """``test`` applied to each element of a list value (a path that crossed an array)."""

    def each(value: Any, record: Mapping[str, Any], judge: QualityJudge) -> str | None:
        if type(value) is not list:
            return test(value, record, judge)
        for i, element in enumerate(value):
            reason = test(element, record, judge)
            if reason is not None:
                return f"element {i}: {reason}"
        return None

    return each


# -- compiling and checking the rules -----------------------------------------------------------


def _as_bool_flag(name: str, arg: Any, path: str) -> list[Issue]:
    if arg is True:
        return []
    return [Issue(f"{path}.{name}", f"{name} takes true", arg, f"write {name}: true, or remove the check")]


def _bounds_issues(name: str, arg: Any, path: str, *, whole: bool) -> list[Issue]:
    hint = f"write e.g. {name}: {{min: 0, max: 100}} (either bound may be left out)"
    if not isinstance(arg, dict) or not arg or set(arg) - {"min", "max"}:
        return [Issue(f"{path}.{name}", f"{name} takes {{min, max}}", arg, hint)]
    kind = "a whole number ≥ 0" if whole else "a number"
    issues = [
        Issue(f"{path}.{name}.{key}", f"must be {kind}", arg[key], hint)
        for key in ("min", "max")
        if arg.get(key) is not None and not _bound_ok(arg[key], whole)
    ]
    lo, hi = arg.get("min"), arg.get("max")
    if not issues and lo is not None and hi is not None and float(lo) > float(hi):
        issues.append(Issue(f"{path}.{name}", f"min {lo} is greater than max {hi}", None, hint))
    return issues


def _bound_ok(bound: Any, whole: bool) -> bool:
    """Whether ``bound`` is a number (``whole``: a whole number ≥ 0, not a text)."""
    if isinstance(bound, bool):
        return False
    if not whole:
        return _is_number(bound)
    return not isinstance(bound, str) and _is_int(bound) and int(bound) >= 0


def _condition_issues(op: str, arg: Any, path: str) -> list[Issue]:
    if op in ("notnull", "isnull"):
        return _as_bool_flag(op, arg, path)
    if op == "between":
        parts = arg if isinstance(arg, list) else str(arg).split(",")
        if len(parts) != 2 or any(str(p).strip() == "" for p in parts):
            return [
                Issue(
                    f"{path}.between", 'between takes two bounds, "low,high"', arg, 'write between: "0,100"'
                )
            ]
    if op in ("in", "notin"):
        members = arg if isinstance(arg, list) else str(arg).split(",")
        if not [m for m in members if str(m).strip()]:
            return [Issue(f"{path}.{op}", f"{op} takes a list of values", arg, f'write {op}: ["A", "B"]')]
    return []


def _regex_issues(arg: Any, path: str) -> list[Issue]:
    try:
        re.compile(arg)
    except (re.error, TypeError) as exc:
        return [
            Issue(
                f"{path}.regex",
                f"invalid regex: {exc}",
                arg,
                "write a Python regular expression, e.g. '^SO-\\d+$'",
            )
        ]
    return []


def _lookup_issues(arg: Any, path: str) -> list[Issue]:
    hint = "write lookup: {scheme: <other scheme id>, field: <content field>}"
    if not isinstance(arg, dict) or set(arg) != {"scheme", "field"}:
        return [Issue(f"{path}.lookup", "lookup takes {scheme, field}", arg, hint)]
    return [
        Issue(f"{path}.lookup.{key}", f"{key} must be a non-empty text", arg[key], hint)
        for key in ("scheme", "field")
        if not isinstance(arg[key], str) or not arg[key].strip()
    ]


def _arg_issues(check: str, arg: Any, path: str) -> list[Issue]:
    """What is wrong with the argument of ``check`` (empty when it compiles)."""
    if check in CONDITION_CHECKS:
        return _condition_issues(check, arg, path)
    if check in ("required", "unique_in_window"):
        return _as_bool_flag(check, arg, path)
    if check in ("range", "length"):
        return _bounds_issues(check, arg, path, whole=check == "length")
    if check == "regex":
        return _regex_issues(arg, path)
    if check == "enum" and not arg:
        return [Issue(f"{path}.enum", "enum needs at least one value", arg, 'write enum: ["A", "B"]')]
    if check == "lookup":
        return _lookup_issues(arg, path)
    return []


def _expr_value(arg: str, path: str, lookup_scheme: str | None) -> CompiledValue:
    text = arg.strip()
    if not text.startswith("_function"):
        text = f"_function {text}"
    return compile_value(text, path=f"{path}.expr", default_lookup_scheme=lookup_scheme)


_BUILDERS: dict[str, Callable[[Any], Test]] = {
    "required": _required,
    "type": _type,
    "range": _range,
    "length": _length,
    "regex": _regex,
    "enum": _enum,
    "lookup": _lookup,
}


def _build(rule: QualityRule, name: str, check: str, arg: Any, path: str, lookup_scheme: str | None) -> Test:
    if check in CONDITION_CHECKS:
        test = _condition(check, arg)
    elif check == "unique_in_window":
        test = _unique(name)
    elif check == "expr":
        test = _expr(_expr_value(arg, path, lookup_scheme))
    else:
        test = _BUILDERS[check](arg)
    return test if check in _ELEMENTWISE_EXEMPT else _elementwise(test)


def _compile_rule(
    rule: QualityRule, path: str, lookup_scheme: str | None
) -> tuple[CompiledRule | None, list[Issue]]:
    checks = rule.checks()
    if len(checks) != 1:
        message = (
            "rule names no check" if not checks else f"rule names {len(checks)} checks ({', '.join(checks)})"
        )
        hint = "write exactly one of: " + ", ".join(CHECKS)
        return None, [Issue(path, message, None, hint)]
    check, arg = checks[0], rule.check_arg()
    issues = _arg_issues(check, arg, path)
    if issues:
        return None, issues
    name = rule.name or path
    try:
        test = _build(rule, name, check, arg, path, lookup_scheme)
    except ExpressionError as exc:
        return None, [Issue(exc.path or f"{path}.expr", exc.message, exc.text or None)]
    scheme = str(arg["scheme"]) if check == "lookup" else None
    return CompiledRule(name, rule.field, rule.action, check, test, scheme), []


def _compile_side(
    rules: Sequence[QualityRule], side: str, lookup_scheme: str | None
) -> tuple[RuleSet, list[Issue]]:
    compiled: list[CompiledRule] = []
    issues: list[Issue] = []
    names: dict[str, str] = {}
    for i, rule in enumerate(rules):
        path = f"quality.{side}[{i}]"
        if rule.name and rule.name in names:
            issues.append(
                Issue(
                    f"{path}.name",
                    f"rule name {rule.name!r} is also {names[rule.name]}'s",
                    None,
                    "give each rule its own name",
                )
            )
        names.setdefault(rule.name or path, path)
        one, found = _compile_rule(rule, path, lookup_scheme)
        issues += found
        if one is not None:
            compiled.append(one)
    return RuleSet(side, compiled), issues


def _compile_all(spec: QualitySpec, lookup_scheme: str | None) -> tuple[QualityPlan, list[Issue]]:
    source, issues = _compile_side(spec.source, "source", lookup_scheme)
    target, more = _compile_side(spec.target, "target", lookup_scheme)
    return QualityPlan(source, target), issues + more


def quality_issues(spec: QualitySpec, lookup_scheme: str | None = None) -> list[Issue]:
    """Every problem of a scheme's ``quality`` block, each at its path
    (``quality.target[2].regex: invalid regex: ...``); empty when it compiles."""
    return _compile_all(spec, lookup_scheme)[1]


_EMPTY = QualityPlan()


def compile_quality(spec: QualitySpec, lookup_scheme: str | None = None) -> QualityPlan:
    """Compile both sides' rules (once per plan).

    Raises:
        ConfigError: A rule does not compile; the message starts with its path, as
            :func:`quality_issues` reports it (which lists them all).
    """
    if not spec.source and not spec.target:
        return _EMPTY
    plan, issues = _compile_all(spec, lookup_scheme)
    if issues:
        first = issues[0]
        hint = f"\n  hint: {first.hint}" if first.hint else ""
        raise ConfigError(f"{first.path}: {first.message}{hint}")
    return plan
