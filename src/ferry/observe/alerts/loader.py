"""Reading an alerts file: ``${VAR}`` expansion, validation, every problem with its path.

Problems are reported all at once, as for schemes (docs/style.md, rule 3)::

    alerts.yaml: 2 errors in alert config
      rules[0].threshold: Input should be less than or equal to 1
      rules[1].channels[0]: unknown channel 'sms'
        hint: known: ops-dingtalk, mail

A value is never echoed in a message: it may be a secret.

A channel that references a variable which is unset or empty (``${DINGTALK_TOKEN:-}`` with no
``DINGTALK_TOKEN``) is valid but *misconfigured*: it cannot reach anyone, so it is reported once
(:meth:`AlertConfig.misconfigured_lines`) and its notices are skipped rather than failing every
evaluation. An optional signing ``secret`` that is empty as a whole is simply off, as if omitted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ferry._redact import remember_secrets
from ferry.connectors.specs import env_references, expand_env
from ferry.errors import ConfigError, Issue, UnsetVariableError
from ferry.observe.alerts.config import CHANNEL_TYPES, RULE_FIELD_HINTS, RULE_TYPES, AlertConfig

__all__ = ["load_alert_config", "parse_alert_config", "unset_variables"]

OPTIONAL_WHEN_EMPTY = frozenset({"secret"})
"""Channel fields that are off when empty (a robot without 加签/signature)."""


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[Any] = list(loc)
    # Drop the discriminator tag pydantic inserts after channels.<name> and rules[i].
    if len(parts) > 2 and parts[0] == "channels" and parts[2] in CHANNEL_TYPES:
        del parts[2]
    if len(parts) > 2 and parts[0] == "rules" and parts[2] in RULE_TYPES:
        del parts[2]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_HINTS = {
    "union_tag_invalid": "type must be one of: {known}",
    "union_tag_not_found": "add `type:` (one of: {known})",
    "extra_forbidden": "remove it, or check its spelling",
}


def _field_hint(loc: tuple[Any, ...]) -> str | None:
    """The hint of a rule field (loc ``("rules", 2, "volume_anomaly", "days", ...)`` ->
    ``RULE_FIELD_HINTS["volume_anomaly.days"]``), if any."""
    if len(loc) < 4 or loc[0] != "rules":
        return None
    return RULE_FIELD_HINTS.get(f"{loc[2]}.{loc[3]}")


def _issues(exc: ValidationError) -> list[Issue]:
    issues = []
    for error in exc.errors():
        path = _loc(tuple(error["loc"]))
        known = ", ".join(RULE_TYPES if path.startswith("rules") else CHANNEL_TYPES)
        hint = _HINTS.get(error["type"], "").format(known=known) or _field_hint(tuple(error["loc"]))
        issues.append(Issue(path, error["msg"], None, hint))  # never echo the input: it may be a secret
    return issues


def _cross_checks(data: Mapping[str, Any]) -> list[Issue]:
    """Rule names unique, rule channels defined: checked on the raw document, so these are
    reported together with the field errors."""
    issues: list[Issue] = []
    channels = data.get("channels")
    known = list(channels) if isinstance(channels, Mapping) else []
    rules = data.get("rules")
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        name = str(rule.get("name") or rule.get("type") or "")
        if name and name in seen:
            issues.append(
                Issue(
                    f"rules[{i}].name",
                    f"rule name {name!r} is already used by rules[{seen[name]}]",
                    None,
                    "give each rule of the same type its own `name:`",
                )
            )
        seen.setdefault(name, i)
        names = rule.get("channels")
        for j, channel in enumerate(names if isinstance(names, list) else []):
            if channel not in known:
                hint = f"known: {', '.join(map(str, known)) or '(none defined)'}"
                issues.append(Issue(f"rules[{i}].channels[{j}]", f"unknown channel {channel!r}", None, hint))
    return issues


def unset_variables(spec: Any, env: Mapping[str, str], field: str = "") -> list[str]:
    """The variables ``spec`` (one raw channel) references that are unset or empty and have no
    non-empty default, in order, each once; a field of :data:`OPTIONAL_WHEN_EMPTY` that would be
    empty as a whole does not count."""
    if isinstance(spec, str):
        return _unset_in(spec, env, field)
    found: list[str] = []
    if isinstance(spec, Mapping):
        found = [var for key, value in spec.items() for var in unset_variables(value, env, str(key))]
    elif isinstance(spec, list):
        found = [var for value in spec for var in unset_variables(value, env, field)]
    return list(dict.fromkeys(found))


def _unset_in(text: str, env: Mapping[str, str], field: str) -> list[str]:
    missing = [var for var, default in env_references(text) if not env.get(var) and not default]
    if (
        field in OPTIONAL_WHEN_EMPTY
        and expand_env(text, connection="", env={**env, **dict.fromkeys(missing, "")}) == ""
    ):
        return []  # an optional field left empty is off, as if omitted
    return list(dict.fromkeys(missing))


def _misconfigured(channels: Any, env: Mapping[str, str] | None) -> dict[str, list[str]]:
    values = os.environ if env is None else env
    raw = channels if isinstance(channels, Mapping) else {}
    return {str(name): unset_variables(spec, values) for name, spec in raw.items()}


def parse_alert_config(
    data: Mapping[str, Any] | None, *, env: Mapping[str, str] | None = None, source: str = "alerts"
) -> AlertConfig:
    """Validate a parsed alerts document (``${VAR}`` in channels expanded from ``env``).

    Raises:
        ConfigError: Every problem found, one per line with its path, e.g.
            ``rules[2].threshold: Input should be less than or equal to 1``.
    """
    data = dict(data or {})
    issues: list[Issue] = []
    channels = data.get("channels")
    if isinstance(channels, Mapping):
        expanded: dict[str, Any] = {}
        from_env: list[tuple[str, str]] = []
        for name, spec in channels.items():
            try:
                expanded[name] = expand_env(spec, connection=str(name), env=env, found=from_env)
            except UnsetVariableError as exc:  # every unset variable of the channel at once
                issues += [
                    Issue(i.path, i.message.removeprefix("field ").split(" ", 1)[1], None, i.hint)
                    for i in exc.issues(f"channels.{name}")
                ]
                expanded[name] = spec
            except ConfigError as exc:
                text = str(exc).split("\n  hint: ")
                message = text[0].replace(f"connection {name!r}: field ", "", 1)
                field = message.split(" ", 1)[0]
                issues.append(Issue(f"channels.{name}.{field}", message.split(" ", 1)[1], None, text[-1]))
                expanded[name] = spec
        data["channels"] = expanded
        remember_secrets(value for _, value in from_env)
    config: AlertConfig | None = None
    try:
        config = AlertConfig.model_validate(data)
    except ValidationError as exc:
        issues += _issues(exc)
    issues += _cross_checks(data)
    if issues:
        count = len(issues)
        lines = [f"{source}: {count} error{'s' if count != 1 else ''} in alert config"]
        lines += ["  " + line for issue in issues for line in str(issue).splitlines()]
        raise ConfigError("\n".join(lines))
    assert config is not None
    config.mark_misconfigured(_misconfigured(channels, env))
    return config


def load_alert_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> AlertConfig:
    """Read and validate an alerts YAML file (see the module docstring and ``examples/alerts.yaml``).

    Raises:
        ConfigError: The file cannot be read or parsed, or is invalid (every problem listed).
    """
    from ferry.scheme import DocumentError, read_document

    file = Path(path)
    try:  # a regular file within the size limits only: never a FIFO or a device (it would hang)
        data = read_document(file)
    except DocumentError as exc:
        what = exc.describe()
        where = "" if str(file) in what else f" {file}"
        raise ConfigError(
            f"cannot read alert config{where}: {what}\n"
            "  hint: pass the path of an alerts.yaml (see examples/alerts.yaml)"
        ) from None
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(
            f"{file}: an alert config must be a mapping with channels/rules, not a {type(data).__name__}"
        )
    return parse_alert_config(data, env=env, source=str(file))
