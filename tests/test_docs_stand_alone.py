"""The repository stands alone: nothing points outside it, and what it points at in docs/ exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".html", ".toml", ".sql", ".txt", ".cfg"}
OUTSIDE = re.compile(
    r"\.\./shared|shared/(seeds|reference)|vendor-apis\.md|qeasy-dsl\.md|\bDESIGN\b|\bSTYLE\.md"
)
DOC_REF = re.compile(r"(?<!``)docs/([\w-]+\.md)(?:`?,? §([0-9]+(?:\.[0-9]+)?[a-z]?))?")


def _repository_texts() -> list[Path]:
    roots = [
        ROOT / "README.md",
        ROOT / "pyproject.toml",
        ROOT / "src",
        ROOT / "tests",
        ROOT / "examples",
        ROOT / "docs",
    ]
    files: list[Path] = []
    for root in roots:
        candidates = [root] if root.is_file() else root.rglob("*")
        files += [p for p in candidates if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return [p for p in files if p != Path(__file__).resolve()]


def test_nothing_in_the_repository_points_outside_it() -> None:
    offenders = []
    for path in _repository_texts():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


def _sections(doc: Path) -> set[str]:
    headings = re.findall(r"^#{2,4} ([0-9]+(?:\.[0-9]+)?[a-z]?)[ .]", doc.read_text(encoding="utf-8"), re.M)
    return set(headings)


def test_every_docs_reference_names_a_file_and_section_that_exist() -> None:
    broken = []
    for path in _repository_texts():
        for match in DOC_REF.finditer(path.read_text(encoding="utf-8", errors="replace")):
            doc = ROOT / "docs" / match.group(1)
            if not doc.is_file():
                broken.append(f"{path.relative_to(ROOT)}: docs/{match.group(1)} does not exist")
                continue
            section = match.group(2)
            if section and section not in _sections(doc) and section.split(".")[0] not in _sections(doc):
                broken.append(f"{path.relative_to(ROOT)}: docs/{match.group(1)} has no section {section}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", ["architecture.md", "vendor-protocols.md", "style.md"])
def test_the_docs_folder_holds_what_the_code_cites(doc: str) -> None:
    assert (ROOT / "docs" / doc).stat().st_size > 1000
