"""Deliver hosts: where a run's one deliver loop executes (see :mod:`ferry.engine.hosts.base`)."""

from ferry.engine.hosts.base import CREDIT_WAIT, CREDITS, DeliverJob, Host
from ferry.engine.hosts.choose import HOST_KINDS, build_host, can_fork, choose_host, deliver_workers
from ferry.engine.hosts.loop import DeliverLoop

__all__ = [
    "CREDITS",
    "CREDIT_WAIT",
    "HOST_KINDS",
    "DeliverJob",
    "DeliverLoop",
    "Host",
    "build_host",
    "can_fork",
    "choose_host",
    "deliver_workers",
]
