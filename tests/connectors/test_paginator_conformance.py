"""One paging conformance suite over every source connector, and the paginators on their own.

Each connector pages through its own ``fetch`` against its sandbox simulator (the SQL connector
against SQLite; the generic HTTP connector against the OKKI simulator and against a cursor API
kept here), with the records its query matches under the test's control: an empty result,
exactly one full page, a short last page, records added or removed between two page calls, and a
page size above the vendor's cap. The cases and their expectations are the same for every
connector; where connectors differ (whether the answer tells the last page, whether it reports a
total, whether a cursor or a position addresses the page) the difference is a property of the
subject, named once in its table row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ferry.connectors.base import Page, PageState
from ferry.connectors.http import HttpConnector
from ferry.connectors.jushuitan import JushuitanConnection, JushuitanConnector
from ferry.connectors.k3cloud import K3CloudConnection, K3CloudConnector
from ferry.connectors.kis import KisConnection, KisConnector
from ferry.connectors.kuaimai import KuaimaiConnection, KuaimaiConnector
from ferry.connectors.okki import OkkiConnection, OkkiConnector
from ferry.connectors.paging import (
    CursorPaginator,
    OffsetPaginator,
    PageFacts,
    PageNumberPaginator,
    Paginator,
    SinglePagePaginator,
    any_of,
    first_known,
    last_numbered_page,
    no_more_flag,
    only_empty_page,
    pages_reach_total,
    rows_reach_total,
    short_page,
)
from ferry.connectors.registry import parse_connection
from ferry.connectors.specs import HttpConnection, SqlConnection
from ferry.connectors.sql import SqlConnector
from ferry.connectors.wangdiantong import WangdiantongConnection, WangdiantongConnector
from ferry.errors import RetriableError
from ferry.sandbox import CHINA, Dataset, Faults, SandboxTransport
from ferry.sandbox.jushuitan import JushuitanSimulator
from ferry.sandbox.k3cloud import K3CloudSimulator
from ferry.sandbox.kis import KisSimulator
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.sandbox.okki import RECEIPTS, OkkiSimulator
from ferry.sandbox.wangdiantong import WangdiantongSimulator

T0 = datetime(2024, 6, 1, 12, tzinfo=CHINA).timestamp()
"""The simulators' and the connectors' clock (signatures and timestamps agree)."""
AT = datetime(2024, 5, 10)
"""Vendor-local start of the queried day; the record in slot ``s`` was modified ``s`` seconds later."""
DAY = {"begin": "2024-05-10 00:00:00", "end": "2024-05-11 00:00:00"}
UNLIMITED = Faults(rate_per_second=0, rate_per_minute=0)
FRONT = 4
"""Slots kept free before the first record, for records added in front while paging."""
SIZE = 4
"""Page size of the cases (the cap case asks more than the vendor's cap)."""


def clock() -> float:
    return T0


# -- subjects: one connector, its source, and the records its query matches -------------------


class Subject:
    """One source connector on its source; the records its query matches live in *slots*,
    answered in slot order. Subclasses say how a record is put into a slot and taken out."""

    name = ""
    knows_last_page = True
    """A full last page is known from the answer (a flag, a total, a page count, no next cursor);
    otherwise one more request comes back empty."""
    reports_total = True
    """Every page reports the size of the result set (``Page.total``)."""

    def __init__(self, source: Any, api: str, method: str, request: dict[str, Any], key: str) -> None:
        self.source = source
        self.api, self.method, self.request, self.key_field = api, method, request, key

    def fetch(self, state: PageState) -> Page:
        page: Page = self.source.fetch(self.api, self.method, dict(self.request), state)
        return page

    def key(self, record: dict[str, Any]) -> str:
        return str(record[self.key_field])

    def clear(self) -> None:
        raise NotImplementedError

    def place(self, slot: int) -> str:
        """Make the record of ``slot`` match the query; its id."""
        raise NotImplementedError

    def take(self, rid: str) -> None:
        """Make record ``rid`` stop matching the query (deleted, or moved out of the window)."""
        raise NotImplementedError

    def fill(self, n: int) -> list[str]:
        """Exactly ``n`` records match, in slots ``FRONT ...``; their ids in the query's order."""
        self.clear()
        return [self.place(FRONT + i) for i in range(n)]


class DatasetSubject(Subject):
    """A simulator whose records live in a :class:`~ferry.sandbox.Dataset`, ordered by modification
    time: the seeded records are the pool; slot ``s`` is modified at ``AT + s`` seconds."""

    def __init__(self, dataset: Dataset, *args: Any) -> None:
        super().__init__(*args)
        self.dataset = dataset
        self.pool = dataset.select()
        self.rows = {rid: dataset.get(rid) for rid in self.pool}

    def clear(self) -> None:
        for rid in self.pool:
            self.dataset.remove(rid)

    def place(self, slot: int) -> str:
        rid = self.pool[slot]
        row = self.rows[rid]
        assert row is not None
        self.dataset.put(rid, row, AT + timedelta(seconds=slot))
        return rid

    def take(self, rid: str) -> None:
        self.dataset.remove(rid)


def jushuitan(capacity: int, tmp_path: Path) -> Subject:
    sim = JushuitanSimulator(size=capacity, faults=UNLIMITED, clock=clock)
    spec = JushuitanConnection(
        name="jst",
        base_url=sim.base_url,
        app_key=sim.APP_KEY,
        app_secret=sim.APP_SECRET,
        access_token=sim.ACCESS_TOKEN,
    )
    connector = JushuitanConnector(spec, transport=SandboxTransport({"jushuitan": sim}))
    connector.clock = clock
    request = {"modified_begin": DAY["begin"], "modified_end": DAY["end"]}
    return DatasetSubject(sim.inout, connector, sim.INOUT_QUERY, "POST", request, "io_id")


def kuaimai(capacity: int, tmp_path: Path) -> Subject:
    sim = KuaimaiSimulator(size=capacity, faults=UNLIMITED, clock=clock)
    spec = KuaimaiConnection(
        name="km",
        base_url=f"{sim.base_url}/router",
        app_key=sim.APP_KEY,
        app_secret=sim.APP_SECRET,
        session=sim.SESSION,
    )
    connector = KuaimaiConnector(spec, transport=SandboxTransport({"kuaimai": sim}), clock=clock)
    request = {"startModified": DAY["begin"], "endModified": DAY["end"]}
    return DatasetSubject(sim.aftersales, connector, "erp.aftersale.list.query", "POST", request, "id")


def wangdiantong(capacity: int, tmp_path: Path) -> Subject:
    sim = WangdiantongSimulator(size=capacity, faults=UNLIMITED, clock=clock)
    spec = WangdiantongConnection(name="wdt", route="direct", **sim.describe()["direct"])
    connector = WangdiantongConnector(spec, transport=SandboxTransport({"wangdiantong": sim}), clock=clock)
    request = {"start_time": DAY["begin"], "end_time": DAY["end"], "status": "5,55,95,105,110,113"}
    api = "wdt.stockout.order.query.trade"
    return DatasetSubject(sim.dataset, connector, api, "POST", request, "stockout_no")


def kis(capacity: int, tmp_path: Path) -> Subject:
    sim = KisSimulator(size=10, materials=capacity, faults=UNLIMITED, clock=clock)
    spec = KisConnection(
        name="kis",
        base_url=sim.base_url,
        client_id=sim.CLIENT_ID,
        client_secret=sim.CLIENT_SECRET,
        auth_code=sim.AUTH_CODE,
        acct_number=sim.ACCT_NUMBER,
    )
    connector = KisConnector(spec, transport=SandboxTransport({"kis": sim}))
    api = "/koas/APP006992/api/Material/List"
    return DatasetSubject(sim.material_data, connector, api, "POST", {}, "FItemID")


def okki(capacity: int, tmp_path: Path) -> Subject:
    sim = OkkiSimulator(size=capacity, faults=UNLIMITED, clock=clock)
    spec = OkkiConnection(
        name="okki", base_url=sim.base_url, client_id=sim.CLIENT_ID, client_secret=sim.CLIENT_SECRET
    )
    connector = OkkiConnector(spec, transport=SandboxTransport({"okki": sim}))
    request = {"start_time": DAY["begin"], "end_time": DAY["end"], "removed": "0"}
    return DatasetSubject(sim.receipts, connector, RECEIPTS, "GET", request, "cash_collection_id")


def http_page(capacity: int, tmp_path: Path) -> Subject:
    """The generic connector, configured for OKKI's receipt list with a token the simulator issued."""
    sim = OkkiSimulator(size=capacity, faults=UNLIMITED, clock=clock)
    token = sim.tokens.issue("paginator-conformance-token", sim.CLIENT_ID, scopes=["invoices"], user="")
    spec = parse_connection(
        {
            "type": "http",
            "name": "crm",
            "base_url": sim.base_url,
            "auth": {"type": "bearer", "value": token},
            "paging": {
                "style": "page",
                "page_param": "start_index",
                "size_param": "count",
                "start": 1,
                "page_size": 20,
                "max_page_size": 100,
            },
            "records_path": "data.list",
            "total_path": "data.totalItem",
            "last_page": "total",
        },
        path="test",
    )
    assert isinstance(spec, HttpConnection)
    connector = HttpConnector(spec, transport=SandboxTransport({"okki": sim}))
    request = {"start_time": DAY["begin"], "end_time": DAY["end"]}
    return DatasetSubject(sim.receipts, connector, RECEIPTS, "GET", request, "cash_collection_id")


class CursorApi:
    """A cursor-paged JSON API: ``GET /items?after=<slot>&limit=n`` answers the records in the slots
    after ``after``, ``next`` (the last slot served, ``null`` when nothing follows) and ``total``.
    A cursor names a position in the order, so records added or removed elsewhere shift nothing."""

    CAP = 100

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        limit = int(params.get("limit", "10"))
        if not 1 <= limit <= self.CAP:
            return httpx.Response(400, json={"error": f"limit must be 1..{self.CAP}, got {limit}"})
        after = int(params.get("after", "-1"))
        slots = sorted(slot for slot in self.rows if slot > after)
        served = slots[:limit]
        following = str(served[-1]) if len(slots) > limit else None
        body = {"items": [self.rows[s] for s in served], "next": following, "total": len(self.rows)}
        return httpx.Response(200, json=body)


class CursorSubject(Subject):
    def __init__(self, api: CursorApi, *args: Any) -> None:
        super().__init__(*args)
        self.api_fake = api

    def clear(self) -> None:
        self.api_fake.rows.clear()

    def place(self, slot: int) -> str:
        self.api_fake.rows[slot] = {"id": f"item-{slot}", "slot": slot}
        return f"item-{slot}"

    def take(self, rid: str) -> None:
        self.api_fake.rows = {s: row for s, row in self.api_fake.rows.items() if row["id"] != rid}


def http_cursor(capacity: int, tmp_path: Path) -> Subject:
    api = CursorApi()
    spec = parse_connection(
        {
            "type": "http",
            "name": "feed",
            "base_url": "https://feed.example.test",
            "paging": {
                "style": "cursor",
                "cursor_param": "after",
                "cursor_path": "next",
                "size_param": "limit",
                "page_size": 20,
                "max_page_size": CursorApi.CAP,
            },
            "records_path": "items",
            "total_path": "total",
        },
        path="test",
    )
    assert isinstance(spec, HttpConnection)
    connector = HttpConnector(spec, transport=httpx.MockTransport(api))
    return CursorSubject(api, connector, "/items", "GET", {}, "id")


class K3CloudSubject(Subject):
    """K3Cloud sale orders ordered by ``FID``: slot ``s`` is the ``s``-th seeded order."""

    knows_last_page = False
    reports_total = False

    def __init__(self, sim: K3CloudSimulator, *args: Any) -> None:
        super().__init__(*args)
        self.form = sim.store.form("SAL_SaleOrder")
        self.pool = sorted(self.form.all(), key=lambda record: int(record["FID"]))

    def clear(self) -> None:
        for record in self.pool:
            self.form.delete(record["FID"])

    def place(self, slot: int) -> str:
        self.form.put(self.pool[slot])
        return str(self.pool[slot]["FID"])

    def take(self, rid: str) -> None:
        self.form.delete(int(rid))


def k3cloud(capacity: int, tmp_path: Path) -> Subject:
    sim = K3CloudSimulator(size=capacity, faults=UNLIMITED, clock=clock)
    spec = parse_connection(
        {
            "type": "kingdee_k3cloud",
            "name": "erp",
            "base_url": f"{sim.base_url}/k3cloud",
            "acct_id": sim.ACCT_ID,
            "username": sim.USERNAME,
            "app_id": sim.APP_ID,
            "app_secret": sim.APP_SECRET,
        },
        path="test",
    )
    assert isinstance(spec, K3CloudConnection)
    connector = K3CloudConnector(spec, transport=SandboxTransport({"k3cloud": sim}), clock=clock)
    request = {"FID": "FID", "Fbillno": "FBillNo", "FormId": "SAL_SaleOrder", "OrderString": "FID ASC"}
    return K3CloudSubject(sim, connector, "ExecuteBillQuery", "POST", request, "FID")


class SqlSubject(Subject):
    """A SQLite table ``items``; slot ``s`` is the row with ``id = s``."""

    knows_last_page = False
    reports_total = False

    def run(self, statement: str, **params: Any) -> None:
        with self.source.engine.begin() as conn:
            conn.execute(text(statement), params)

    def clear(self) -> None:
        self.run("DELETE FROM items")

    def place(self, slot: int) -> str:
        self.run("INSERT INTO items (id, name) VALUES (:id, :name)", id=slot, name=f"item {slot}")
        return str(slot)

    def take(self, rid: str) -> None:
        self.run("DELETE FROM items WHERE id = :id", id=int(rid))


def sql(capacity: int, tmp_path: Path) -> Subject:
    connector = SqlConnector(SqlConnection(name="db", url=f"sqlite:///{tmp_path / 'source.db'}"))
    subject = SqlSubject(connector, "", "GET", {"main_sql": "SELECT id, name FROM items ORDER BY id"}, "id")
    subject.run("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    return subject


SUBJECTS: dict[str, tuple[Callable[[int, Path], Subject], int | None]] = {
    "jushuitan": (jushuitan, 50),
    "kuaimai": (kuaimai, 200),
    "wangdiantong": (wangdiantong, 100),
    "kis": (kis, 100),
    "okki": (okki, 100),
    "k3cloud": (k3cloud, 2000),
    "sql": (sql, None),
    "http-page-on-okki": (http_page, 100),
    "http-cursor": (http_cursor, 100),
}
"""Subject name -> (factory taking how many records it must hold, the vendor's page-size cap)."""


@pytest.fixture(params=list(SUBJECTS))
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[int], Subject]]:
    """Builds the parametrized subject able to hold ``capacity`` matching records."""
    built: list[Subject] = []

    def build(capacity: int = 16) -> Subject:
        subject = SUBJECTS[request.param][0](FRONT + capacity + 4, tmp_path)
        subject.name = request.param
        built.append(subject)
        return subject

    yield build
    for subject in built:
        subject.source.close()


def read(subject: Subject, size: int, *, between: Callable[[], object] | None = None) -> list[Page]:
    """Every page of the query as the collector follows them; ``between`` runs before each
    following page is asked for."""
    pages: list[Page] = []
    state: PageState | None = PageState(index=0, page_size=size)
    while state is not None:
        pages.append(subject.fetch(state))
        state = pages[-1].next
        if state is not None and between is not None:
            between()
        assert len(pages) <= 10, f"{subject.name}: paging does not end"
    return pages


def ids(subject: Subject, pages: list[Page]) -> list[str]:
    return [subject.key(record) for page in pages for record in page.records]


def shortfall_shows(pages: list[Page], read_ids: list[str]) -> bool:
    """Fewer distinct records came than the largest total the pages reported (what the collector
    compares to read a window again, ``settings.verify_totals``)."""
    totals = [page.total for page in pages if page.total is not None]
    return bool(totals) and len(set(read_ids)) < max(totals)


# -- the conformance cases -----------------------------------------------------------------------


def test_every_connector_pages_through_a_paginator(make: Callable[[int], Subject]) -> None:
    subject = make(0)
    assert isinstance(subject.source.pager, Paginator)
    assert subject.source.limits.max_page_size == SUBJECTS[subject.name][1]


def test_an_empty_result_is_one_request_and_the_last_page(make: Callable[[int], Subject]) -> None:
    subject = make(0)
    subject.fill(0)
    pages = read(subject, SIZE)
    assert [(page.records, page.next) for page in pages] == [([], None)]
    assert pages[0].total == (0 if subject.reports_total else None)


def test_exactly_one_full_page(make: Callable[[int], Subject]) -> None:
    subject = make(SIZE)
    order = subject.fill(SIZE)
    pages = read(subject, SIZE)
    assert ids(subject, pages) == order
    assert [len(page.records) for page in pages] == ([SIZE] if subject.knows_last_page else [SIZE, 0])


def test_a_short_last_page_ends_paging_with_every_record_read_once(make: Callable[[int], Subject]) -> None:
    subject = make(9)
    order = subject.fill(9)
    pages = read(subject, SIZE)
    assert ids(subject, pages) == order
    assert [len(page.records) for page in pages] == [4, 4, 1]
    following = [page.next for page in pages]
    assert [(s.index, s.page_size, s.offset) for s in following if s is not None] == [(1, 4, 4), (2, 4, 8)]
    assert following[-1] is None
    assert [page.total for page in pages] == ([9, 9, 9] if subject.reports_total else [None] * 3)


def test_records_added_in_front_while_paging_end_paging_and_show_as_a_shortfall(
    make: Callable[[int], Subject],
) -> None:
    """After each page one record appears before every other one (an older change arriving
    late): the rest shift one place on, so a page repeats the last record of the one before.
    Paging ends, every record there from the start is read, and the ones added behind the pager
    are missed -- visible against the reported total, for the connectors that report one."""
    subject = make(9)
    order = subject.fill(9)
    added: list[str] = []
    pages = read(subject, SIZE, between=lambda: added.append(subject.place(FRONT - 1 - len(added))))
    got = ids(subject, pages)
    assert len(pages) == 3 and len(added) == 2
    assert set(got) == set(order), "every record there from the start is read"
    if subject.reports_total:
        assert [page.total for page in pages] == [9, 10, 11]
    assert shortfall_shows(pages, got) is subject.reports_total


def test_a_record_removed_while_paging_ends_paging_and_a_skip_shows_as_a_shortfall(
    make: Callable[[int], Subject],
) -> None:
    """After the first page its first record leaves the result set: the rest shift one place
    back. A page number or offset then starts one record late and skips the record that slid
    into the first page's range; a cursor skips nothing. A skip is visible against the reported
    total for the connectors that report one; the others (K3Cloud and SQL, offset paging without
    a total) cannot see it, as their docstrings say."""
    subject = make(9)
    order = subject.fill(9)
    taken: list[str] = []

    def take_first() -> None:
        if not taken:
            taken.append(order[0])
            subject.take(order[0])

    pages = read(subject, SIZE, between=take_first)
    got = ids(subject, pages)
    assert len(pages) <= 3
    missed = set(order[1:]) - set(got)
    cursor = isinstance(subject.source.pager, CursorPaginator)
    assert missed == (set() if cursor else {order[SIZE]})
    assert len(got) == len(set(got)), "nothing is read twice"
    assert shortfall_shows(pages, got) is (subject.reports_total and bool(missed))


def test_a_page_size_above_the_vendors_cap_asks_for_the_cap(make: Callable[[int], Subject]) -> None:
    """The simulators refuse a page size above their cap (K3Cloud's silently serves up to 10000):
    the connector asks for the cap, and the records come in pages of the cap."""
    cap = make(0).source.limits.max_page_size
    if cap is None:  # no cap (SQL): a page is as large as asked
        subject = make(7)
        order = subject.fill(7)
        pages = read(subject, 1000)
        assert [len(page.records) for page in pages] == [7] and ids(subject, pages) == order
        return
    subject = make(cap + 1)
    order = subject.fill(cap + 1)
    assert subject.source.pager.page_size(PageState(page_size=cap * 3)) == cap
    pages = read(subject, cap * 3)
    assert [len(page.records) for page in pages] == [cap, 1]
    assert ids(subject, pages) == order


# -- the paginators on their own -----------------------------------------------------------------


def facts(index: int = 0, size: int = 4, count: int = 4, offset: int = 0, **said: Any) -> PageFacts:
    return PageFacts(PageState(index=index, page_size=size, offset=offset), size, count, **said)


@pytest.mark.parametrize("base", [0, 1])
def test_page_numbers_count_from_the_base(base: int) -> None:
    pager = PageNumberPaginator(page_param="page_no", size_param="page_size", base=base)
    first = pager.first(4)
    assert first == PageState(index=0, page_size=4)
    assert pager.request_fields(first) == {"page_size": 4, "page_no": base}
    second = pager.after(first, [{}] * 4)
    assert second == PageState(index=1, page_size=4, offset=4)
    assert pager.request_fields(second) == {"page_size": 4, "page_no": base + 1}


def test_offsets_advance_by_the_records_served_or_by_the_page_size() -> None:
    by_records = OffsetPaginator(offset_param="offset", size_param="limit")
    by_size = OffsetPaginator(offset_param="StartRow", size_param="Limit", advance="size")
    state = PageState(index=1, page_size=4, offset=4)
    repeated = [{}] * 5  # the vendor repeated one record of the previous page
    assert by_records.request_fields(state) == {"limit": 4, "offset": 4}
    assert by_records.after(state, repeated) == PageState(index=2, page_size=4, offset=9)
    assert by_size.after(state, repeated) == PageState(index=2, page_size=4, offset=8)


def test_a_cursor_is_sent_from_the_second_page_and_ends_or_refuses_to_loop() -> None:
    pager = CursorPaginator(cursor_param="after", size_param="limit")
    first = pager.first(10)
    assert pager.request_fields(first) == {"limit": 10}
    second = pager.after(first, [{}] * 10, cursor="c1")
    assert second == PageState(index=1, page_size=10, offset=10, cursor="c1")
    assert pager.request_fields(second) == {"limit": 10, "after": "c1"}
    assert pager.after(second, [{}] * 10, cursor=None) is None
    assert pager.after(second, [{}] * 10, cursor="") is None
    with pytest.raises(RetriableError, match=r"equals the current one \('c1'\); paging would loop"):
        pager.after(second, [{}] * 10, cursor="c1")


def test_the_page_size_is_capped_and_at_least_one() -> None:
    pager = PageNumberPaginator(page_param="p", size_param="n", cap=50)
    assert pager.page_size(PageState(page_size=500)) == 50
    assert pager.page_size(PageState(page_size=0)) == 1
    assert pager.first(500).page_size == 50
    assert pager.request_fields(PageState(page_size=500)) == {"n": 50, "p": 1}
    assert pager.after(PageState(page_size=500), [{}] * 50) == PageState(index=1, page_size=50, offset=50)
    assert OffsetPaginator().page_size(PageState(page_size=5000)) == 5000, "no cap: as asked"


@pytest.mark.parametrize(
    "last",
    [short_page, only_empty_page, first_known(no_more_flag), any_of(pages_reach_total)],
    ids=["short-page", "only-empty", "flag", "total"],
)
def test_an_empty_page_ends_paging_whatever_the_rule(last: Any) -> None:
    pager = PageNumberPaginator(last=last)
    assert pager.after(PageState(index=3, page_size=4), [], total=100, has_more=True) is None


def test_a_short_page_is_the_last_and_a_full_one_is_not() -> None:
    assert short_page(facts(count=3)) is True
    assert short_page(facts(count=4)) is False
    assert only_empty_page(facts(count=1)) is False


def test_a_total_ends_paging_by_pages_asked_for_or_by_rows_read() -> None:
    # 10 records, pages of 4: the third page (index 2) covers the total.
    assert pages_reach_total(facts(index=1, count=4, total=10)) is False
    assert pages_reach_total(facts(index=2, count=2, total=10)) is True
    assert pages_reach_total(facts(total=None)) is None
    # rows read: a page the vendor served short does not count as read.
    assert rows_reach_total(facts(index=2, offset=7, count=2, total=10)) is False
    assert rows_reach_total(facts(index=2, offset=8, count=2, total=10)) is True
    assert rows_reach_total(facts(total=None)) is None


def test_a_page_count_and_a_has_more_flag() -> None:
    assert last_numbered_page(facts(index=1, pages=2)) is True
    assert last_numbered_page(facts(index=0, pages=2)) is False
    assert last_numbered_page(facts()) is None
    assert no_more_flag(facts(has_more=False)) is True
    assert no_more_flag(facts(has_more=True)) is False
    assert no_more_flag(facts()) is None


def test_first_known_lets_the_first_rule_that_can_tell_decide_both_ways() -> None:
    jushuitan_rule = first_known(no_more_flag, last_numbered_page, short_page)
    assert jushuitan_rule(facts(count=2, has_more=True)) is False, "the flag outranks a short page"
    assert jushuitan_rule(facts(count=4, pages=1)) is True, "no flag: the page count decides"
    assert jushuitan_rule(facts(count=2)) is True, "neither: a short page is the last"
    wdt_rule = first_known(pages_reach_total, short_page)
    assert wdt_rule(facts(count=2, total=10)) is False, "the total says more follow, short or not"
    assert first_known()(facts()) is None


def test_any_of_ends_paging_as_soon_as_one_rule_says_so() -> None:
    kuaimai_rule = any_of(short_page, no_more_flag, pages_reach_total)
    assert kuaimai_rule(facts(count=2, has_more=True, total=100)) is True, "a short page ends it"
    assert kuaimai_rule(facts(count=4, has_more=False, total=100)) is True, "a false flag ends it"
    assert kuaimai_rule(facts(count=4, has_more=True, total=4)) is True, "the total ends it"
    assert kuaimai_rule(facts(count=4, has_more=True, total=100)) is False


def test_a_single_page_endpoint_takes_no_paging_field_and_has_one_page() -> None:
    pager = SinglePagePaginator()
    assert pager.request_fields(PageState(page_size=10)) == {}
    assert pager.after(PageState(page_size=10), [{}] * 10, has_more=True) is None


@pytest.mark.parametrize(
    "pager",
    [PageNumberPaginator(), OffsetPaginator(), CursorPaginator(), SinglePagePaginator()],
    ids=["page-number", "offset", "cursor", "single-page"],
)
def test_every_paginator_implements_the_protocol(pager: Paginator) -> None:
    assert isinstance(pager, Paginator)
