"""K3Cloud ``distributionOrg`` (分配组织): allocate saved base data to another organisation.

After a successful save the saved ids are allocated with ``DynamicFormService.Allocate``
``{"formid": FormId, "data": {"PkIds": "1,2", "TOrgIds": "100040"}}``. docs/vendor-protocols.md §1.2
names the service but documents no body; this is the body of Kingdee's Allocate API, and the
simulator reads the same. An allocation that fails does not fail the record (the bill is
saved; saving it again could duplicate it): each saved record's response says
``{"distributionOrg": .., "allocated": true|false, "allocateError": ..}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ferry.connectors._k3cloud_save import SAVE_LIKE, SaveCall
from ferry.connectors._k3cloud_status import dindex, error_text, is_success, status_text
from ferry.connectors.base import Outcome

__all__ = ["allocation_body", "note_allocation"]


def allocation_body(save: SaveCall, results: Sequence[Outcome]) -> tuple[dict[str, Any], list[Any]] | None:
    """The ``Allocate`` body for the records saved by ``save`` and the ids in ``DIndex`` order.

    ``None`` when there is nothing to allocate (no ``distributionOrg``, not a save, no success).
    """
    if save.distribution_org is None or save.operation not in SAVE_LIKE:
        return None
    ids = list(
        dict.fromkeys(
            o.response["Id"]
            for o in results
            if o.ok and isinstance(o.response, dict) and o.response.get("Id")
        )
    )
    if not ids:
        return None
    data = {"PkIds": ",".join(str(i) for i in ids), "TOrgIds": str(save.distribution_org)}
    return {"formid": save.form_id, "data": data}, ids


def note_allocation(
    save: SaveCall,
    results: Sequence[Outcome],
    ids: list[Any],
    status: dict[str, Any] | None,
    failure: str | None,
) -> None:
    """Record in each saved record's response whether ``Allocate`` allocated it.

    ``status`` is the Allocate answer's ``ResponseStatus``; ``failure`` the text of an error
    that sank the whole Allocate call.
    """
    allocated: dict[str, bool] = {}
    problems: dict[str, str] = {}
    if status is not None and not status.get("SuccessEntitys") and not is_success(status):
        failure = status_text(status)
    elif status is not None:
        for entry in status.get("SuccessEntitys") or []:
            index = dindex(entry, len(ids))
            if index is not None:
                allocated[str(ids[index])] = True
        loose = []
        for entry in status.get("Errors") or []:
            index = dindex(entry, len(ids))
            if index is None:
                loose.append(entry)
            else:
                problems[str(ids[index])] = error_text([entry])
        if loose:
            failure = error_text(loose)
        elif is_success(status) and not allocated:
            allocated = {str(i): True for i in ids}
    for outcome in results:
        if not outcome.ok or not isinstance(outcome.response, dict) or not outcome.response.get("Id"):
            continue
        key = str(outcome.response["Id"])
        outcome.response["distributionOrg"] = save.distribution_org
        outcome.response["allocated"] = allocated.get(key, False)
        why = problems.get(key) or (None if allocated.get(key) else failure)
        if why:
            outcome.response["allocateError"] = why
