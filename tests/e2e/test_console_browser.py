"""The console in a real browser: Debian's chromium driven by Playwright (never a downloaded one).

Log in, see the dashboard, run seed 001 (KuaiMai after-sales -> SQLite) from its scheme page
against the in-process sandbox, find a record the target rejected, fix the target, replay the
record and see it finished. Then the pages at real sizes (:mod:`console_scale`: a 1,073-window
run, 24 hours of data, the records filter) in Chinese and English, measured in the browser:
nothing wider than the window, no two chart labels overlapping, every status filter visible.
Screenshots go to ``test-artifacts/screenshots/`` (kept by CI): a person looks at them too.
Every request the page makes must go to the console itself: it works offline.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI

from console_scale import EVERY_RULE, HELPER_ID, RealSizes, seed_real_sizes
from console_seed import FAST, SCHEME_ID, blocked_targets, load, sandbox
from ferry.console import BackgroundRunner, add_user, create_app
from ferry.engine.runner import run_scheme
from ferry.observe.alerts import describe_rules
from ferry.sandbox.seeds import RUN_UNTIL
from ferry.store import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
USER, PASSWORD = "operator", "e2e-password-1"
TIMEOUT_MS = 15_000


def _apt_install(package: str) -> None:
    """``apt-get install -y package`` as root (after ``apt-get update`` if the first try fails)."""
    if os.geteuid() != 0:
        return
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, check=False, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(install, check=False, capture_output=True, timeout=900)


def chromium_executable() -> str:
    """Debian's chromium; in CI installed with apt-get when missing (never Playwright's download)."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    if not os.environ.get("CI"):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    _apt_install("chromium")
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if not found:
        pytest.fail(
            "chromium is required in CI and `apt-get install -y chromium` did not provide it", pytrace=False
        )
    return found


def ensure_cjk_font() -> None:
    """Chinese labels need a CJK font in the screenshots; in CI install one if none is there (best effort)."""
    if not os.environ.get("CI") or not shutil.which("fc-list"):
        return
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    if not listed.strip():
        _apt_install("fonts-wqy-zenhei")


@dataclass
class Console:
    url: str
    store: Store
    runner: BackgroundRunner
    target_db: Path


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free port; its base URL."""
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.025)
    assert server.started, "the console did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    sb = sandbox()
    files = blocked_targets(tmp_path)  # the target rejects large quantities until the test fixes it
    scheme = load(sb, files)
    schemes = {scheme.id: scheme}
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        add_user(store, USER, PASSWORD)
        runner = BackgroundRunner(
            store,
            lambda: schemes,
            now=RUN_UNTIL.replace(tzinfo=scheme.tz),
            transport=sb.transport(),
            retry=FAST,
        )
        app = create_app(store, schemes=lambda: schemes, runner=runner, secret_key="e2e-secret")
        try:
            with serving(app) as url:
                yield Console(url, store, runner, files["bi"])
        finally:
            runner.wait(SCHEME_ID, timeout=30)


@dataclass
class Busy:
    """A console over a store as a production day leaves it (seed 001's run and :mod:`console_scale`)."""

    url: str
    sizes: RealSizes


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[Busy]:
    sb = sandbox()
    scheme = load(sb, blocked_targets(tmp_path))
    schemes = {scheme.id: scheme}
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        add_user(store, USER, PASSWORD)
        run_scheme(
            scheme, store, now=RUN_UNTIL.replace(tzinfo=scheme.tz), transport=sb.transport(), retry=FAST
        )
        sizes = seed_real_sizes(store)
        app = create_app(
            store,
            schemes=lambda: schemes,
            runner=BackgroundRunner(store, lambda: schemes),
            alert_rules=partial(describe_rules, EVERY_RULE),
            secret_key="e2e-secret",
        )
        with serving(app) as url:
            yield Busy(url, sizes)


def shot(page: object, name: str) -> Path:
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def test_operator_runs_a_seed_finds_a_failed_record_replays_it_and_sees_it_finished(console: Console) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_executable()
    ensure_cjk_font()
    SHOTS.mkdir(parents=True, exist_ok=True)
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    foreign: list[str] = []
    taken: list[Path] = []

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-US")
        page.on(
            "request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None
        )

        # Log in and see the dashboard.
        page.goto(console.url + "/")
        expect(page).to_have_url(f"{console.url}/login?next=/")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("#login")
        expect(page.locator("h1")).to_have_text("Dashboard")
        expect(page.locator("#activity-chart svg")).to_be_visible()

        # Run seed 001 from its scheme page.
        page.click("#nav-schemes")
        page.click(f"a.scheme-link:has-text('{SCHEME_ID}')")
        expect(page.locator("#step-source")).to_contain_text("erp.aftersale.list.query")
        page.click(f"button.run-now[data-scheme='{SCHEME_ID}']")
        expect(page.locator("#flash")).to_contain_text(f"run of scheme {SCHEME_ID} started")
        assert console.runner.wait(SCHEME_ID, timeout=30), "the run did not end"
        page.reload()
        expect(page.locator("#preview pre").first).to_contain_text("outer_id")
        taken.append(shot(page, "scheme-flow.png"))
        page.click("#nav-dashboard")
        expect(page.locator("#scheme-status")).to_contain_text("partial")
        taken.append(shot(page, "dashboard.png"))

        # Find a record the target rejected.
        page.click("#nav-records")
        page.check("#status-filter input[value=error]")
        page.click("#search-button")
        rows = page.locator("tr.record-row.error")
        expect(rows.first).to_be_visible()
        assert page.locator("tr.record-row").count() == rows.count(), "only failed records are listed"
        record_id = rows.first.locator("a.record-link").inner_text()
        rows.first.locator("a.record-link").click()
        expect(page.locator("#record-status")).to_have_text("error")
        expect(page.locator("#last-error")).to_contain_text("qty above the limit")
        taken.append(shot(page, "failed-record.png"))

        # Fix the target, replay the record, see it finished.
        with sqlite3.connect(console.target_db) as con:
            con.execute("DROP TRIGGER block_big")
        page.click("#replay")
        expect(page.locator("#flash")).to_contain_text("1 records sent back to pending")
        assert console.runner.wait(SCHEME_ID, timeout=30), "the delivery did not end"
        page.reload()
        expect(page.locator("#record-status")).to_have_text("finished")
        expect(page.locator("#history")).to_contain_text("qty above the limit")
        taken.append(shot(page, "replayed-record.png"))

        page.goto(console.url + "/?lang=zh")
        expect(page.locator("h1")).to_have_text("仪表盘")
        taken.append(shot(page, "dashboard-zh.png"))
        browser.close()

    row = console.store.get_record(SCHEME_ID, record_id)
    assert row is not None and row.status == "finished"
    with sqlite3.connect(console.target_db) as con:
        written = con.execute(
            "SELECT qty FROM aftersale_list_query WHERE id = ? AND outer_id = ?",
            (str(row.content["id"]), row.content["items"]["outerId"]),
        ).fetchall()
    assert written == [(row.content["items"]["receivableCount"],)]
    assert foreign == [], f"the console fetched something from elsewhere: {foreign[:3]}"
    for path in taken:
        assert path.is_file() and path.stat().st_size > 10_000, path


MEASURE = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom, text: el.textContent}; };
  const overlaps = [];
  document.querySelectorAll("svg.chart").forEach((svg) => {
    const texts = [...svg.querySelectorAll(":scope > text")].map(box);
    texts.forEach((a, i) => texts.slice(i + 1).forEach((b) => {
      if (a.x < b.r - 0.5 && b.x < a.r - 0.5 && a.y < b.b - 0.5 && b.y < a.b - 0.5) overlaps.push(a.text + " / " + b.text);
    }));
  });
  const hidden = [];
  document.querySelectorAll("#status-filter label.check, form.filters label, form.filters button").forEach((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2 - window.scrollY + window.scrollY);
    if (r.width < 4 || r.height < 4 || r.right > window.innerWidth || !(el === hit || el.contains(hit))) hidden.push(el.textContent.trim());
  });
  return {width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
          charts: document.querySelectorAll("svg.chart").length, overlaps, hidden};
}"""
"""Measures what a person would see wrong: overlapping chart texts, filters not shown whole, the page's size."""
VIEWPORT = {"width": 1366, "height": 768}
"""The commonest laptop screen."""


def test_pages_at_real_sizes_look_right_in_both_languages(busy: Busy) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_executable()
    ensure_cjk_font()
    SHOTS.mkdir(parents=True, exist_ok=True)
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    big = busy.sizes.catch_up_run
    pages = {
        "run-1073-windows": f"/runs/{big}",
        "run-1073-windows-page-2": f"/runs/{big}?wpage=2&lpage=3",
        "dashboard-24h": "/",
        "records-filtered": f"/records?scheme={HELPER_ID}&status=error&status=dead",
        "api-assets": "/apis",
        "alerts": "/alerts",
    }
    measured: dict[str, dict] = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable)
        for lang in ("en", "zh"):
            page = browser.new_page(viewport=VIEWPORT, locale="zh-CN" if lang == "zh" else "en-US")
            page.goto(f"{busy.url}/login?lang={lang}")
            page.fill("#username", USER)
            page.fill("#password", PASSWORD)
            page.click("#login")
            sync_api.expect(page.locator("#activity-chart svg")).to_be_visible()
            for name, path in pages.items():
                page.goto(busy.url + path)
                measured[f"{name}-{lang}"] = page.evaluate(MEASURE)
                shot(page, f"{name}-{lang}.png")
            page.close()
        browser.close()

    for name, m in measured.items():
        assert m["width"] <= VIEWPORT["width"], f"{name}: the page is wider than the window ({m['width']} px)"
        assert m["overlaps"] == [], f"{name}: chart texts overlap: {m['overlaps'][:4]}"
        assert m["hidden"] == [], f"{name}: filters not shown whole: {m['hidden']}"
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
    for lang in ("en", "zh"):
        assert measured[f"run-1073-windows-{lang}"]["height"] < 9_000, (
            "a catch-up run's page was 73,606 px tall"
        )
        assert measured[f"dashboard-24h-{lang}"]["charts"] == 1
        assert measured[f"api-assets-{lang}"]["charts"] >= 2
