"""The Quarantine page in a real browser (Debian's chromium through Playwright, never a downloaded one).

Seed 001 runs from its scheme page with a source rule (``status`` must be 1-5) against the
in-process KuaiMai simulator, which serves work order 4000007 with status 99: the rule holds
that record. The operator finds it on the Quarantine page, opens Edit, first saves broken JSON
(refused, with the line and column), then sets the status to 2 and saves with "deliver now",
and sees the record finished and the value in the target; the audit shows the change under
the operator's name. Screenshots in English and Chinese go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_console_browser import (
    PASSWORD,
    SHOTS,
    TIMEOUT_MS,
    USER,
    chromium_executable,
    ensure_cjk_font,
    serving,
)

from ferry.console import BackgroundRunner, add_user, create_app
from ferry.store import Store, open_store, quarantine
from quarantine_seed import FAST, RULE, SCHEME_ID, load_with_rule, quality_sandbox, run_until, target_status

HELD = "4000007-0"
WORK_ORDER = "4000007"


@dataclass
class Console:
    url: str
    store: Store
    runner: BackgroundRunner
    target_db: Path
    shots: Path


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    sb = quality_sandbox()
    scheme, files = load_with_rule(sb, tmp_path)
    schemes = {scheme.id: scheme}
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        add_user(store, USER, PASSWORD)
        runner = BackgroundRunner(
            store, lambda: schemes, now=run_until(scheme), transport=sb.transport(), retry=FAST
        )
        app = create_app(store, schemes=lambda: schemes, runner=runner, secret_key="e2e-secret")
        try:
            with serving(app) as url:
                yield Console(url, store, runner, files["bi"], tmp_path / "shots")
        finally:
            runner.wait(SCHEME_ID, timeout=30)


def test_operator_fixes_a_quarantined_value_releases_it_and_sees_it_delivered(console: Console) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_executable()
    ensure_cjk_font()
    console.shots.mkdir(parents=True, exist_ok=True)
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    foreign: list[str] = []
    taken: list[Path] = []

    def shot(page: object, name: str) -> None:
        path = console.shots / name
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        taken.append(path)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="en-US")
        page.on(
            "request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None
        )
        page.goto(f"{console.url}/login?lang=en")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("#login")

        # Run the scheme: the rule holds one record.
        page.goto(f"{console.url}/schemes/{SCHEME_ID}")
        page.click(f"button.run-now[data-scheme='{SCHEME_ID}']")
        expect(page.locator("#flash")).to_contain_text(f"run of scheme {SCHEME_ID} started")
        assert console.runner.wait(SCHEME_ID, timeout=30), "the run did not end"

        # The Quarantine page lists it with the rule, the path and the value.
        page.click("#nav-quarantine")
        expect(page.locator("h1")).to_have_text("Quarantine")
        row = page.locator(f"tr.held-row[data-record='{HELD}']")
        expect(row).to_be_visible()
        assert page.locator("tr.held-row").count() == 1, "only the bad record is held"
        expect(row.locator("td.rule")).to_contain_text(RULE["name"])
        expect(row.locator("td.path")).to_have_text("status")
        expect(row.locator("td.value")).to_have_text("99")
        expect(page.locator("#q-counts tr.count-row")).to_contain_text(RULE["name"])
        shot(page, "quarantine-list-en.png")
        page.goto(f"{console.url}/quarantine?lang=zh")
        expect(page.locator("h1")).to_have_text("隔离区")
        expect(page.locator("#release-selected")).to_have_text("放行选中记录")
        shot(page, "quarantine-list-zh.png")
        page.goto(f"{console.url}/quarantine?lang=en")

        # Edit: broken JSON is refused and kept; the fixed value is saved and delivered now.
        page.locator(f"tr.held-row[data-record='{HELD}'] a.row-edit").click()
        expect(page.locator("#why-rule")).to_have_text(RULE["name"])
        expect(page.locator("#why-path")).to_have_text("status")
        expect(page.locator("#why-value")).to_have_text("99")
        content = page.locator("#content-editor").input_value()
        assert '"status": 99' in content
        page.fill("#content-editor", content.replace('"status": 99', '"status": 2,,'))
        page.click("#save-release")
        expect(page.locator("#content-error")).to_contain_text("the content is not valid JSON")
        expect(page.locator("#held-status")).to_have_text("quarantined")
        shot(page, "quarantine-edit-refused-en.png")
        page.fill("#content-editor", content.replace('"status": 99', '"status": 2'))
        page.fill("#edit-reason", "vendor sent 99 for 2 (processing)")
        expect(page.locator("#deliver-now")).to_be_checked()
        shot(page, "quarantine-edit-en.png")
        page.click("#save-release")
        expect(page.locator("#flash")).to_contain_text(
            f"record {HELD} of scheme {SCHEME_ID} edited and released by {USER}"
        )
        expect(page.locator("#flash")).to_contain_text(f"deliver of scheme {SCHEME_ID} started")
        assert console.runner.wait(SCHEME_ID, timeout=30), "the delivery did not end"
        page.reload()
        expect(page.locator("#record-status")).to_have_text("finished")
        expect(page.locator("#content")).to_contain_text('"status": 2')
        shot(page, "quarantine-delivered-en.png")

        # The audit shows who changed what, in Chinese too.
        page.goto(f"{console.url}/quarantine?view=audit&lang=zh")
        audit = page.locator("tr.audit-row.edit")
        expect(audit.locator("td.who")).to_have_text(USER)
        expect(audit.locator("td.op")).to_have_text("编辑并放行")
        expect(audit.locator("td.changes")).to_have_text("status: 99 → 2")
        expect(page.locator("#tab-held .badge")).to_have_text("0")
        shot(page, "quarantine-audit-zh.png")
        browser.close()

    row_after = console.store.get_record(SCHEME_ID, HELD)
    assert row_after is not None and row_after.status == "finished"
    assert target_status(console.target_db, WORK_ORDER) == [2]
    [entry] = quarantine.audit_log(console.store, scheme_id=SCHEME_ID)
    assert (entry.operation, entry.who, entry.reason) == ("edit", USER, "vendor sent 99 for 2 (processing)")
    assert foreign == [], f"the console fetched something from elsewhere: {foreign[:3]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path in taken:
        assert path.is_file() and path.stat().st_size > 10_000, path
        shutil.copy(path, SHOTS / path.name)
