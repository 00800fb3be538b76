"""No metadata key passes silently: each is honoured, or a warning names it with its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.errors import Issue
from ferry.scheme import load_metadata, load_scheme
from ferry.scheme._catalogue import LEVELS, metadata_warnings
from ferry.scheme.loader import file_warnings
from ferry.scheme.metadata import SourceMetadata, TargetMetadata

ROOT = Path(__file__).resolve().parents[2]


def source(**extra: Any) -> dict[str, Any]:
    return {"api": "/orders", "effect": "QUERY", "method": "GET", "id": "order_id", **extra}


def target(**extra: Any) -> dict[str, Any]:
    return {"api": "/save", "effect": "EXECUTE", "method": "POST", **extra}


def by_path(warnings: list[Issue]) -> dict[str, Issue]:
    return {w.path: w for w in warnings}


def test_an_unsupported_key_is_a_warning_saying_what_it_does_in_qeasy() -> None:
    meta = load_metadata(source(autoFillResponse=True))

    (warning,) = meta.warnings
    assert warning.severity == "warning"
    assert str(warning) == (
        "source.autoFillResponse: not supported by Ferry "
        "(in QEasy it fills `response` with the fields of a real API answer)\n"
        "  hint: run `ferry preview SCHEME --fill-response`: it writes the sampled answer's fields and types "
        "into `response`"
    )


def test_an_unknown_key_is_a_warning_with_the_nearest_key_at_its_level() -> None:
    meta = load_metadata(
        source(
            request=[{"field": "start", "value": "1"}, {"field": "end", "lable": "结束", "value": "2"}],
            condition=[[{"field": "status", "logic": "eq", "value": "1", "strictmod": True}]],
            IdCheck=False,
        )
    )

    found = by_path(meta.warnings)
    assert set(found) == {
        "source.request[1].lable",
        "source.condition[0][0].strictmod",
        "source.IdCheck",
    }
    assert found["source.request[1].lable"].message == "unknown key"
    assert found["source.request[1].lable"].hint is not None
    assert found["source.request[1].lable"].hint.startswith("did you mean `label`?")
    assert "did you mean `strictMode`?" in str(found["source.condition[0][0].strictmod"])
    assert "did you mean `idCheck`?" in str(found["source.IdCheck"])


def test_warnings_do_not_make_the_metadata_invalid() -> None:
    meta = load_metadata(source(delay=5, formatResponse=[{"old": "a", "new": "b", "format": "amount"}]))

    assert isinstance(meta, SourceMetadata)
    assert {w.path for w in meta.warnings} == {"source.delay", "source.formatResponse"}
    assert all(w.severity == "warning" for w in meta.warnings)


@pytest.mark.parametrize(
    ("extra", "path", "words"),
    [
        pytest.param(
            {"isUploadFile": True},
            "target.isUploadFile",
            "uploads the files of the record's `attachment` list",
            id="kingdee-upload",
        ),
        pytest.param(
            {"groupCalculate": {"headerGroup": ["io_id"]}},
            "target.groupCalculate",
            "sums rows by header and body groups",
            id="group-calculate",
        ),
        pytest.param(
            {"operation": {"method": "batchArraySave", "rows": 10, "rowsKey": "object"}},
            "target.operation.rowsKey",
            "Ferry always sends them as an array",
            id="rows-key-other-than-array",
        ),
        pytest.param(
            {"request": [{"field": "FNumber", "value": "x", "defaultValue": "y"}]},
            "target.request[0].defaultValue",
            "exports store as `value`",
            id="field-default-value",
        ),
    ],
)
def test_each_unsupported_key_of_a_target_is_named_with_its_path(
    extra: dict[str, Any], path: str, words: str
) -> None:
    warnings = by_path(load_metadata(target(**extra)).warnings)

    assert list(warnings) == [path]
    assert warnings[path].message.startswith("not supported by Ferry (in QEasy it ")
    assert words in warnings[path].message


def test_rows_key_array_is_what_ferry_does_and_is_not_a_warning() -> None:
    meta = load_metadata(target(operation={"method": "batchArraySave", "rows": 1, "rowsKey": "array"}))

    assert meta.warnings == []


def test_a_key_of_the_other_side_is_named_as_such() -> None:
    warnings = load_metadata(target(beatFlat=["items"])).warnings

    assert [str(w) for w in warnings] == ["target.beatFlat: a source key; the target side does not use it"]


def test_an_unknown_scalar_target_key_says_the_connector_receives_it() -> None:
    (warning,) = load_metadata(target(IsAutoSubmitAndAudit=True)).warnings

    assert warning.path == "target.IsAutoSubmitAndAudit"
    assert "passes it to the target connector as an option" in warning.message


def test_other_response_names_ferry_reads_are_honoured_and_others_are_named() -> None:
    meta = load_metadata(
        source(
            otherResponse=[
                {"field": "rows", "value": "data/rows"},  # the generic adapters' list path
                {"field": "StatusKey", "value": "code"},
                {"field": "StatusValue", "value": "0"},
                {"field": "PageKy", "value": "pageNo"},
                {"field": "DownloadAttachment", "value": True},
            ]
        )
    )

    found = by_path(meta.warnings)
    assert set(found) == {"source.otherResponse[3].field", "source.otherResponse[4].field"}
    assert "unknown otherResponse field (got 'PageKy')" in str(found["source.otherResponse[3].field"])
    assert "did you mean `PageKey`?" in str(found["source.otherResponse[3].field"])
    assert "Kingdee adapter download" in found["source.otherResponse[4].field"].message


def test_other_response_on_a_connection_that_is_not_http_is_a_warning(tmp_path: Path) -> None:
    scheme = load_scheme(
        {
            "id": "km",
            "name": "km",
            "connections": {"db": {"type": "sql", "url": f"sqlite:///{tmp_path / 'a.db'}"}},
            "source": {
                "connection": "db",
                "metadata": {
                    "api": "SELECT 1 AS id",
                    "effect": "QUERY",
                    "method": "SQL",
                    "id": "id",
                    "otherResponse": [{"field": "DataKey", "value": "data/list"}],
                },
            },
            "target": {"connection": "db", "metadata": target(api="store")},
        }
    )

    (warning,) = scheme.warnings
    assert warning.path == "source.otherResponse"
    assert warning.message.startswith("not supported by Ferry for a sql connection (in QEasy it ")


def test_a_scheme_collects_the_warnings_of_both_sides(tmp_path: Path) -> None:
    scheme = load_scheme(
        {
            "id": "both",
            "name": "both",
            "connections": {"db": {"type": "sql", "url": f"sqlite:///{tmp_path / 'a.db'}"}},
            "source": {"connection": "db", "metadata": {**source(api="SELECT 1 AS order_id"), "name": "x"}},
            "target": {"connection": "db", "metadata": target(api="store", isUploadFile=True)},
        }
    )

    assert [w.path for w in scheme.warnings] == ["source.name", "target.isUploadFile"]


def test_warnings_of_a_file_that_does_not_load_are_still_found(tmp_path: Path) -> None:
    bad = tmp_path / "bad.source.json"
    bad.write_text('{"api": "/orders", "effect": "QUERY", "ID": "order_id"}', encoding="utf-8")

    (warning,) = file_warnings(bad)
    assert warning.path == "source.ID"
    assert "did you mean `id`?" in str(warning)


_NOT_MODEL_FIELDS = {"condition_bk"}
"""Honoured because QEasy ignores it too (a disabled copy of condition)."""


@pytest.mark.parametrize(("side", "model"), [("source", SourceMetadata), ("target", TargetMetadata)])
def test_every_honoured_top_level_key_is_read_by_the_metadata_model(side: str, model: type[Any]) -> None:
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        choices = getattr(info.validation_alias, "choices", None) or []
        names |= {c for c in choices if isinstance(c, str)}
    honoured = {key for key, entry in LEVELS[side].items() if entry.qeasy is None}

    assert honoured - _NOT_MODEL_FIELDS <= names


def test_the_shipped_examples_and_demo_warn_only_about_what_ferry_really_ignores() -> None:
    files = sorted((ROOT / "examples").glob("*/*.json")) + sorted(
        (ROOT / "src/ferry/demo/schemes").glob("*.json")
    )
    found = {(f.relative_to(ROOT).as_posix(), w.path) for f in files for w in file_warnings(f)}

    assert found == {
        ("examples/001-kuaimai-aftersale-to-mysql/source.json", "source.name"),
        ("examples/001-kuaimai-aftersale-to-mysql/source.json", "source.autoFillResponse"),
    }


def test_the_walk_accepts_anything_without_raising() -> None:
    assert metadata_warnings([1, 2], "source") == []
    assert metadata_warnings({"request": "x", "condition": [3, [4]], "otherResponse": [None]}, "source") == []


def test_a_document_full_of_unknown_keys_gives_a_bounded_number_of_warnings() -> None:
    from ferry.scheme._catalogue import MAX_WARNINGS

    data = {"api": "/x", "effect": "QUERY", **{f"key{i}": i for i in range(5000)}}

    assert len(metadata_warnings(data, "source")) == MAX_WARNINGS
