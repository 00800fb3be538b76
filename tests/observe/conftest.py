"""Fixtures for the metrics and alert tests: a temp store, local robot receivers, local SMTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from observe_helpers import Mailbox, Receiver, start_smtp

from ferry.store import Store, open_store


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(sqlite_url)
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = start_smtp(box)
    yield box
    controller.stop()
