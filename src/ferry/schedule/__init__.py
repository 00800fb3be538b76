"""Scheduling: run enabled schemes on their crontabs in-process (``ferry serve``).

    from ferry.schedule import Scheduler

    scheduler = Scheduler(schemes, store)      # SystemClock; FakeClock in tests
    scheduler.start()                          # loop + runs in background threads
    scheduler.trigger("demo-orders")           # "run now"
    scheduler.status()                         # next fires, runs in flight, last run
    scheduler.stop()                           # runs stop at their next checkpoint

The rules (what each crontab runs: :mod:`ferry.schedule._jobs`):

- **Enabled**: a scheme runs when its file says ``enabled`` (default) and the store's
  ``schemes.enabled`` flag is on (the console switches it). While switched off its slots
  pass without runs, so switching it on again does not fire a catch-up run.
- **No overlap**: a job runs only under its scheme's leases (``collect``, ``deliver``; see
  :mod:`ferry.schedule._jobs`), so one collect per scheme runs at a time, also across
  processes sharing the store. A lease left by a killed process is taken over when it
  expires (``lease_ttl``), and the run it left ``running`` is closed as failed.
- **Misfires**: a job is due when its latest slot is later than the last slot it fired
  (``schedule_slots``); any number of missed slots -- downtime, a long run -- make one run.
  A slot that comes while the job's previous run still goes is coalesced: one run follows
  when it ends. Of several schedulers sharing a store, one runs a given slot.
- **Shutdown**: :meth:`Scheduler.stop` (``ferry serve`` calls it on SIGTERM/SIGINT) starts
  nothing more and asks the runs in flight to stop at their next checkpoint (a committed
  page, a recorded deliver batch); they end ``failed`` with ``stopped: shutdown`` and the
  next run continues from there.
"""

from ferry.schedule._clock import Clock, FakeClock, SystemClock
from ferry.schedule._jobs import Job, jobs_of, latest_slot, next_slots
from ferry.schedule._scheduler import Scheduler
from ferry.store.leases import acquire_lease, lease_holders, release_lease

__all__ = [
    "Clock",
    "FakeClock",
    "Job",
    "Scheduler",
    "SystemClock",
    "acquire_lease",
    "jobs_of",
    "latest_slot",
    "lease_holders",
    "next_slots",
    "release_lease",
]
