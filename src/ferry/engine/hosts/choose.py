"""Choosing a run's host from the scheme, the store and the platform."""

from __future__ import annotations

import multiprocessing
import os
import sys

from ferry.connectors.base import TargetConnector
from ferry.connectors.specs import SqlConnection
from ferry.engine.hosts.base import DeliverJob, Host
from ferry.engine.hosts.inline import InlineHost, StoreOnlyHost
from ferry.engine.hosts.thread import ThreadHost
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["HOST_KINDS", "build_host", "can_fork", "choose_host", "deliver_workers"]

HOST_KINDS = ("none", "inline", "thread", "process")

_SERVER_DATABASES = ("mysql", "mariadb", "postgres")


def can_fork() -> bool:
    """Whether the process host is available here (Linux with ``fork``)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def deliver_workers(scheme: Scheme) -> int:
    """``settings.deliver_workers``, else the default: 2 for a database server target
    (MySQL/MariaDB, PostgreSQL) when there are two cores or more, else 1.

    A deliver worker spends about a third of a batch waiting for the database to execute and
    commit it; a second worker maps its batch meanwhile (measured on the 200k-record MariaDB
    bench: 5.6 s -> 5.2 s). Vendor APIs count concurrent calls against the account, and a
    SQLite file takes one writer at a time, so those keep one."""
    if scheme.settings.deliver_workers is not None:
        return scheme.settings.deliver_workers
    connection = scheme.target_connection
    server = isinstance(connection, SqlConnection) and connection.url.get_secret_value().startswith(
        _SERVER_DATABASES
    )
    return 2 if server and (os.cpu_count() or 1) >= 2 else 1


def choose_host(
    scheme: Scheme,
    store: Store,
    *,
    collect: bool = True,
    deliver: bool = True,
    fork_allowed: bool = True,
    target_injected: bool = False,
) -> str:
    """The host kind of a run (one of :data:`HOST_KINDS`).

    - ``none`` when the run does not deliver; ``inline`` when it only delivers;
    - else ``settings.stream``, except that ``process`` falls back to ``thread`` where a child
      could not share what the run uses: the caller forbids forking (``ferry serve`` runs other
      threads), the target was passed in as an object, the store lives in this process's
      memory, or the platform cannot fork.
    """
    if not deliver:
        return "none"
    if not collect:
        return "inline"
    stream = scheme.settings.stream
    if stream != "process":
        return stream
    shareable = fork_allowed and not target_injected and store.shared_across_processes
    return "process" if shareable and can_fork() else "thread"


def build_host(kind: str, job: DeliverJob, target: TargetConnector | None) -> Host:
    """The host of ``kind`` for ``job``, delivering to ``target`` in this process."""
    if kind == "none":
        return StoreOnlyHost(job.store)
    if kind == "inline":
        return InlineHost(job, target)
    if kind == "thread":
        return ThreadHost(job, target)
    if kind == "process":
        from ferry.engine.hosts.process import ProcessHost

        return ProcessHost(job, target, workers=deliver_workers(job.scheme))
    raise ValueError(f"unknown host kind {kind!r}; expected one of {', '.join(HOST_KINDS)}")
