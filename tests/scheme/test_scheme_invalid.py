"""Every invalid scheme in ``invalid/`` fails with exactly the issues its ``expect:`` lines state.

Each case file carries one or more lines ``# expect: <path>: <text>`` (``//`` in JSON). A case
passes when, for every expectation, some issue sits at exactly ``<path>`` and ``<text>`` occurs in
its rendering (message, got and hint), and when no issue is left unexplained -- so a case also
fails if the loader starts reporting noise or stops at the first error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ferry.errors import Issue, SchemeError
from ferry.scheme import load_any

CASES = Path(__file__).parent / "invalid"
_EXPECT = re.compile(r"^\s*(?:#|//)\s*expect:\s*(?P<path>[^:]*?):\s(?P<text>.+?)\s*$")


def _expectations(path: Path) -> list[tuple[str, str]]:
    found = [
        (m.group("path"), m.group("text")) for m in map(_EXPECT.match, path.read_text().splitlines()) if m
    ]
    assert found, f"{path.name} states no `expect:` line"
    return found


def _case_files() -> list[Path]:
    return sorted(
        p for p in CASES.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json", ".jsonc")
    )


def _matches(issue: Issue, path: str, text: str) -> bool:
    return issue.path == path and text in str(issue)


def test_there_are_at_least_eighteen_invalid_cases() -> None:
    assert len(_case_files()) >= 18


@pytest.mark.parametrize("case", _case_files(), ids=lambda p: p.stem)
def test_invalid_scheme_reports_every_expected_issue_and_nothing_else(case: Path) -> None:
    expected = _expectations(case)
    with pytest.raises(SchemeError) as info:
        load_any(case, env={})
    issues = info.value.issues
    rendered = "\n".join(str(i) for i in issues)
    for path, text in expected:
        assert any(_matches(i, path, text) for i in issues), f"missing {path}: {text!r} in:\n{rendered}"
    unexplained = [i for i in issues if not any(i.path == path for path, _ in expected)]
    assert not unexplained, "unexpected issues:\n" + "\n".join(str(i) for i in unexplained)
    assert all(i.hint for i in issues), "every issue needs a hint:\n" + rendered
    assert str(case.name) in str(info.value).splitlines()[0]
