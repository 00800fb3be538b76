"""InMemoryLookups: lazy loading once per scheme, O(1) hash indexes, key normalisation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from ferry.errors import ConfigError
from ferry.expr import EvalContext, InMemoryLookups, LookupProvider, compile_value

GOODS = [
    {"id": "1", "number": "P-1", "content": {"FNumber": "P-1", "FItemID": 1001, "FStatus": "A"}},
    {"id": "2", "number": "P-2", "content": {"FNumber": "P-2", "FItemID": 1002, "FStatus": "B"}},
    {"id": "3", "number": "P-3", "content": {"FNumber": 1003, "FItemID": 1003, "FStatus": "A"}},
]
CUSTOMERS = [{"id": "c1", "number": "C-1", "content": {"name": "旗舰店", "code": "C1"}}]


class CountingLoader:
    """Loads canned rows and counts calls per scheme."""

    def __init__(self, data: Mapping[str, list[dict[str, Any]]]) -> None:
        self.data = data
        self.calls: Counter[str] = Counter()

    def __call__(self, scheme: str) -> Iterable[Mapping[str, Any]]:
        self.calls[scheme] += 1
        yield from self.data.get(scheme, [])


def test_rows_are_loaded_once_per_scheme_per_run_and_lazily() -> None:
    loader = CountingLoader({"goods": GOODS, "customers": CUSTOMERS})
    lookups = InMemoryLookups(loader, default_scheme="goods")
    assert loader.calls == Counter()

    by_number = compile_value("_findCollection find FItemID from goods where FNumber={{code}}")
    by_status = compile_value("_findCollection find FNumber from goods where FStatus={{s}}")
    mongo = compile_value(
        '_mongoQuery findField=content.FItemID where={"content.FItemID":{"$gt":"{{min}}"}}',
        default_lookup_scheme="goods",
    )
    results = []
    for code in ["P-1", "P-2", "1003", "P-404"] * 50:
        ctx = EvalContext(row={"code": code, "s": "B", "min": 1001}, lookups=lookups)
        results.append((by_number.evaluate(ctx), by_status.evaluate(ctx), mongo.evaluate(ctx)))

    assert results[:4] == [(1001, "P-2", 1002), (1002, "P-2", 1002), (1003, "P-2", 1002), (None, "P-2", 1002)]
    assert loader.calls == Counter({"goods": 1})
    assert lookups.find("customers", "code", {"name": "旗舰店"}) == "C1"
    assert loader.calls == Counter({"goods": 1, "customers": 1})


def test_hash_index_is_built_once_per_key_fields() -> None:
    lookups = InMemoryLookups(CountingLoader({"goods": GOODS}))
    builds: list[tuple[str, tuple[str, ...]]] = []
    original = lookups._index

    def spy(scheme: str, paths: tuple[str, ...]) -> Any:
        if (scheme, paths) not in lookups._indexes:
            builds.append((scheme, paths))
        return original(scheme, paths)

    lookups._index = spy  # type: ignore[method-assign]
    for _ in range(100):
        assert lookups.find("goods", "FItemID", {"FNumber": "P-2"}) == 1002
        assert lookups.find("goods", "FItemID", {"FStatus": "A", "FNumber": 1003}) == 1003
        assert lookups.query("goods", "content.FItemID", {"content.FNumber": {"$eq": "P-1"}}) == 1001
    # _findCollection on FNumber and the equivalent pure-$eq mongo filter share one index.
    assert builds == [
        ("goods", ("content.FNumber",)),
        ("goods", ("content.FNumber", "content.FStatus")),
    ]


@pytest.mark.parametrize(
    ("stored", "key"),
    [
        pytest.param(1001, "1001", id="int-stored-string-key"),
        pytest.param("1001", 1001, id="string-stored-int-key"),
        pytest.param(1001.0, "1001", id="integral-float-stored"),
        pytest.param(True, "true", id="bool-stored"),
    ],
)
def test_lookup_keys_compare_as_strings(stored: Any, key: Any) -> None:
    lookups = InMemoryLookups(lambda s: [{"id": "x", "content": {"k": stored, "v": "hit"}}])
    assert lookups.find("s", "v", {"k": key}) == "hit"


def test_first_loaded_row_wins_when_several_match() -> None:
    rows = [
        {"id": "a", "content": {"k": "1", "v": "first"}},
        {"id": "b", "content": {"k": "1", "v": "second"}},
    ]
    lookups = InMemoryLookups(lambda s: rows)
    assert lookups.find("s", "v", {"k": "1"}) == "first"
    assert lookups.query("s", "content.v", {"content.k": {"$in": ["1"]}}) == "first"


def test_default_scheme_is_used_when_lookup_names_none() -> None:
    loader = CountingLoader({"goods": GOODS})
    lookups = InMemoryLookups(loader, default_scheme="goods")
    assert lookups.query(None, "content.FItemID", {"content.FNumber": "P-2"}) == 1002
    assert loader.calls == Counter({"goods": 1})


def test_no_scheme_and_no_default_is_a_config_error() -> None:
    lookups = InMemoryLookups(lambda s: [])
    with pytest.raises(ConfigError, match="lookup_scheme"):
        lookups.query(None, "content.FID", {"content.a": 1})


def test_invalidate_forces_a_reload() -> None:
    loader = CountingLoader({"goods": GOODS})
    lookups = InMemoryLookups(loader)
    assert lookups.find("goods", "FItemID", {"FNumber": "P-1"}) == 1001
    lookups.invalidate("goods")
    assert lookups.find("goods", "FItemID", {"FNumber": "P-1"}) == 1001
    assert loader.calls == Counter({"goods": 2})


def test_rows_missing_a_key_field_are_not_indexed() -> None:
    rows = [{"id": "a", "content": {"v": "no key"}}, {"id": "b", "content": {"k": "", "v": "empty key"}}]
    lookups = InMemoryLookups(lambda s: rows)
    assert lookups.find("s", "v", {"k": ""}) == "empty key"
    assert lookups.find("s", "v", {"k": None}) is None


def test_in_memory_lookups_satisfies_the_protocol() -> None:
    assert isinstance(InMemoryLookups(lambda s: []), LookupProvider)


def test_equality_finder_answers_like_find() -> None:
    lookups = InMemoryLookups(CountingLoader({"goods": GOODS}))
    one = lookups.equality_finder("goods", "FItemID", ("FNumber",))
    two = lookups.equality_finder("goods", "FItemID", ("FStatus", "FNumber"))
    repeated = lookups.equality_finder("goods", "FItemID", ("FNumber", "FNumber"))
    for key in ["P-1", "P-2", 1003, "1003", 1003.0, "P-404", None, True]:
        assert one([key]) == lookups.find("goods", "FItemID", {"FNumber": key})
        for status in ["A", "B"]:
            assert two([status, key]) == lookups.find("goods", "FItemID", {"FStatus": status, "FNumber": key})
        assert repeated(["P-404", key]) == lookups.find("goods", "FItemID", {"FNumber": key})
    assert one(["P-2"]) == 1002
    assert two(["A", 1003]) == 1003


def test_equality_finder_sees_reloaded_rows_and_a_new_default_scheme() -> None:
    data = {"goods": [dict(GOODS[0])], "other": [{"id": "9", "content": {"FNumber": "P-1", "FItemID": 9}}]}
    lookups = InMemoryLookups(lambda s: list(data.get(s, [])), default_scheme="goods")
    finder = lookups.equality_finder(None, "FItemID", ("FNumber",))
    assert finder(["P-1"]) == 1001
    data["goods"] = [{"id": "1", "content": {"FNumber": "P-1", "FItemID": 5001}}]
    assert finder(["P-1"]) == 1001  # rows are loaded once per run
    lookups.invalidate("goods")
    assert finder(["P-1"]) == 5001
    lookups.default_scheme = "other"
    assert finder(["P-1"]) == 9


def test_equality_finder_without_any_scheme_is_a_config_error_on_use() -> None:
    lookups = InMemoryLookups(lambda s: [])
    finder = lookups.equality_finder(None, "F", ("k",))
    with pytest.raises(ConfigError, match="lookup_scheme"):
        finder(["x"])


def test_compiled_lookup_follows_the_provider_of_each_context() -> None:
    cv = compile_value("_findCollection find FItemID from goods where FNumber={{code}}", path="p")
    first = InMemoryLookups(lambda s: GOODS)
    second = InMemoryLookups(lambda s: [{"id": "x", "content": {"FNumber": "P-1", "FItemID": 7}}])
    got = [
        cv.evaluate(EvalContext(row={"code": "P-1"}, lookups=provider))
        for provider in [first, second, first, second]
    ]
    assert got == [1001, 7, 1001, 7]


def test_compiled_lookup_asks_a_plain_provider_through_find() -> None:
    class PlainProvider:
        def __init__(self) -> None:
            self.asked: list[tuple[str | None, str, dict[str, Any]]] = []

        def find(self, scheme: str | None, field: str, where: Mapping[str, Any]) -> Any:
            self.asked.append((scheme, field, dict(where)))
            return "found"

        def query(self, scheme: str | None, find_field: str, filter: Mapping[str, Any]) -> Any:
            raise AssertionError("not a mongo lookup")

    provider = PlainProvider()
    cv = compile_value("_findCollection find F from s where a={{x}} b='B'", path="p")
    assert cv.evaluate(EvalContext(row={"x": 1}, lookups=provider)) == "found"
    assert cv.evaluate(EvalContext(row={"x": 2}, lookups=provider)) == "found"
    assert provider.asked == [("s", "F", {"a": 1, "b": "B"}), ("s", "F", {"a": 2, "b": "B"})]


def test_compiled_lookup_does_not_keep_a_finished_runs_rows_alive() -> None:
    import gc
    import weakref

    cv = compile_value("_findCollection find FItemID from goods where FNumber={{code}}", path="p")
    provider = InMemoryLookups(lambda s: GOODS)
    assert cv.evaluate(EvalContext(row={"code": "P-2"}, lookups=provider)) == 1002
    gone = weakref.ref(provider)
    del provider
    gc.collect()
    assert gone() is None
