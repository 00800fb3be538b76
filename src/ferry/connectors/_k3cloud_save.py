"""K3Cloud writes: Save/BatchSave/Submit/Audit bodies and per-record outcomes (§1.5).

**The call.** The operation is ``otherRequest.Operation`` when it names one, else the scheme's
``api`` (case-insensitive: ``batchSave``, ``Save``, ``Submit``, ``Audit``, ``UnAudit``,
``Delete``, ``Draft``). The body is ``{"formid": FormId, "data": {...options, "Model": ...}}``:

* ``Save``/``Draft`` send one ``Model`` object; a delivery carrying a list of Models
  (``batchArraySave``) goes to ``BatchSave`` instead, since Save takes one bill.
* ``BatchSave`` sends a ``Model`` array (a single Model becomes an array of one).
* ``Submit``/``Audit``/``UnAudit``/``Delete`` send ``Ids`` (comma-separated ``FID``) when every
  payload has one, else ``Numbers`` (``FBillNo``/``FNumber``); a payload that already holds
  ``Ids``/``Numbers`` is sent as it is.

Options are the rendered ``otherRequest``. ``FormId`` and ``Operation`` shape the call;
``distributionOrg`` is kept for the allocation; the vendor's boolean flags
(``IsAutoSubmitAndAudit``, ``IsVerifyBaseDataField``, ``IsDeleteEntry``, ``NumberSearch`` ...)
become JSON booleans whatever way they were written (``"true"``, ``"0"``, ``True``);
``NeedUpDateFields``/``NeedReturnFields``/``Numbers`` written as text become arrays; everything
else is passed into ``data`` unchanged.

**Outcomes.** ``SuccessEntitys[i].DIndex`` and ``Errors[i].DIndex`` index the Models (the
``Ids``/``Numbers`` for Submit/Audit). Each Model answers for the records it was packed from:
one record per Model for ``batchArraySave``; every record of the delivery when one Model
carries them all (``merge``). A record whose Model has an error is ``ok=False`` with
``FieldName: Message`` and ``retriable=False``; one with a success entity is ok with
``{"Id", "Number"}`` (plus ``NeedReturnData`` when the answer has it). Errors
without a usable ``DIndex`` apply to every Model that did not succeed. A Model the answer
neither fails nor lists in ``SuccessEntitys`` was not acknowledged, even when ``IsSuccess`` is
true: its records are ``ok=False`` quoting the answer, and climb the retry ladder (a save that
did land is found again by ``MatchField`` on the retry). A one-Model call also accepts a success
entry without ``DIndex``; the top-level ``Id``/``Number`` alone do not acknowledge.

``distributionOrg`` is allocated after the save: :mod:`ferry.connectors._k3cloud_allocate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ferry.connectors._k3cloud_status import dindex, error_text, is_success, msg_code
from ferry.connectors.base import Delivery, Outcome
from ferry.errors import ConfigError

__all__ = ["OPERATIONS", "SAVE_LIKE", "SaveCall", "build_call", "outcomes"]

OPERATIONS = {
    name.lower(): name for name in ("Save", "BatchSave", "Draft", "Submit", "Audit", "UnAudit", "Delete")
}
"""Lower-cased operation -> the ``DynamicFormService`` method."""

SAVE_LIKE = frozenset({"Save", "BatchSave", "Draft"})

BOOL_OPTIONS = {
    name.lower(): name
    for name in (
        "IsDeleteEntry",
        "IsVerifyBaseDataField",
        "IsEntryBatchFill",
        "ValidateFlag",
        "NumberSearch",
        "IsAutoAdjustField",
        "IgnoreInterationFlag",
        "IsControlPrecision",
        "ValidateRepeatJson",
        "IsAutoSubmitAndAudit",
        "NetworkCtrl",
        "IsVerifyProcInst",
        "UseBatControlTimes",
    )
}
LIST_OPTIONS = {name.lower(): name for name in ("NeedUpDateFields", "NeedReturnFields", "Numbers")}
INT_OPTIONS = {name.lower(): name for name in ("BatchCount", "CreateOrgId", "SelectedPostId")}
CALL_OPTIONS = {
    "formid": "FormId",
    "operation": "Operation",
    "distributionorg": "distributionOrg",
    "matchfield": "MatchField",
    "matchentry": "MatchEntry",
}
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


@dataclass
class SaveCall:
    """One vendor call for a delivery."""

    operation: str
    form_id: str
    body: dict[str, Any]
    owners: list[list[str]]
    """For each Model (DIndex), the record ids it answers for."""
    distribution_org: Any = None
    match_field: str | None = None
    match_entry: str | None = None
    """Ferry's ``MatchEntry`` option (``Entry.KeyField``); never sent to K3Cloud."""
    """Ferry's ``MatchField`` option: the field that finds an existing record (see
    :mod:`ferry.connectors._k3cloud_match`); never sent to K3Cloud."""


def _flag(name: str, value: Any, where: str) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("", "null", "none"):
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{where}: otherRequest.{name} must be true or false (got {value!r})")


def _data_options(options: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(call options by canonical name, data keys)`` from the rendered otherRequest."""
    call: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, value in options.items():
        low = str(key).lower()
        if low in CALL_OPTIONS:
            call[CALL_OPTIONS[low]] = value
        elif low in BOOL_OPTIONS:
            flag = _flag(BOOL_OPTIONS[low], value, where)
            if flag is not None:
                data[BOOL_OPTIONS[low]] = flag
        elif low in LIST_OPTIONS:
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            if value not in (None, []):
                data[LIST_OPTIONS[low]] = value
        elif low in INT_OPTIONS:
            if value not in (None, ""):
                try:
                    data[INT_OPTIONS[low]] = int(str(value).strip())
                except ValueError:
                    raise ConfigError(
                        f"{where}: otherRequest.{INT_OPTIONS[low]} must be an integer (got {value!r})"
                    ) from None
        elif value is not None:
            data[str(key)] = value
    return call, data


def _operation(delivery: Delivery, call: Mapping[str, Any], where: str) -> str:
    for candidate in (call.get("Operation"), delivery.api):
        if candidate and str(candidate).strip().lower() in OPERATIONS:
            return OPERATIONS[str(candidate).strip().lower()]
    known = ", ".join(OPERATIONS.values())
    raise ConfigError(
        f"{where}: neither api {delivery.api!r} nor otherRequest.Operation {call.get('Operation')!r} "
        f"is a K3Cloud operation\n  hint: use one of {known}"
    )


def _owners(delivery: Delivery, models: Sequence[Any]) -> list[list[str]]:
    ids = list(delivery.record_ids)
    if len(models) == len(ids):
        return [[rid] for rid in ids]
    # One Model for several records (merge), or a count mismatch: every Model answers for all.
    return [ids for _ in models]


def _first(model: Mapping[str, Any], names: Sequence[str]) -> Any:
    lowered = {str(k).lower(): v for k, v in model.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, "", 0, "0"):
            return value
    return None


def _by_keys(models: Sequence[Any], where: str) -> dict[str, Any]:
    """``Ids`` when every payload has one (``Ids``/``FID``/``Id``), else ``Numbers``."""
    dicts = [m for m in models if isinstance(m, Mapping)]
    if dicts and len(dicts) == len(models):
        ids = [_first(m, ("Ids", "FID", "Id")) for m in dicts]
        if all(ids):
            return {"Ids": ",".join(str(i) for i in ids)}
        numbers = [_first(m, ("Numbers", "FBillNo", "FNumber", "Number")) for m in dicts]
        if all(numbers):
            return {
                "Numbers": [
                    str(n) for group in numbers for n in (group if isinstance(group, list) else [group])
                ]
            }
    raise ConfigError(
        f"{where}: Submit/Audit/UnAudit/Delete need FID (or Ids) or FBillNo/FNumber (or Numbers) "
        "in every payload"
    )


def build_call(delivery: Delivery, *, where: str) -> SaveCall:
    """The vendor call for ``delivery`` (see the module docstring).

    Raises:
        ConfigError: No ``FormId``, an unknown operation, a flag that is not a boolean.
    """
    call, data = _data_options(delivery.options, where)
    form_id = str(call.get("FormId") or "").strip()
    if not form_id:
        raise ConfigError(
            f"{where}: otherRequest has no FormId\n"
            '  hint: add {"field": "FormId", "value": "BD_Customer"} (the K3Cloud form) to otherRequest'
        )
    operation = _operation(delivery, call, where)
    body = delivery.body
    models: list[Any] = list(body) if isinstance(body, list) else [body]
    if operation in SAVE_LIKE:
        if operation != "BatchSave" and len(models) > 1:
            operation = "BatchSave"
        data["Model"] = models if operation == "BatchSave" else models[0]
    else:
        data.update(_by_keys(models, where))
    return SaveCall(
        operation=operation,
        form_id=form_id,
        body={"formid": form_id, "data": data},
        owners=_owners(delivery, models),
        distribution_org=call.get("distributionOrg") or None,
        match_field=str(call.get("MatchField") or "").strip() or None,
        match_entry=str(call.get("MatchEntry") or "").strip() or None,
    )


def outcomes(
    save: SaveCall, document: Any, status: dict[str, Any], quote: Callable[[str], str] = repr
) -> list[Outcome]:
    """One outcome per record from a Save/BatchSave/Submit/Audit answer (module docstring).

    ``quote`` renders the answer for an error message (the client's redacting, truncating quote).
    """
    result = document.get("Result", {}) if isinstance(document, dict) else {}
    count = len(save.owners)
    errors, loose = _errors(status, count)
    returned = result.get("NeedReturnData") if isinstance(result, dict) else None
    answer = _Answer(status, _successes(status, count), errors, loose, returned, quote)
    verdicts: dict[str, Outcome] = {}
    for index, record_ids in enumerate(save.owners):
        outcome = answer.verdict(save, index)
        for rid in record_ids:
            previous = verdicts.get(rid)
            if previous is None or (previous.ok and not outcome.ok):
                verdicts[rid] = Outcome(rid, outcome.ok, outcome.response, outcome.error, False)
    return list(verdicts.values())


def _errors(status: dict[str, Any], count: int) -> tuple[dict[int, list[Any]], list[Any]]:
    """The answer's ``Errors`` by ``DIndex``, and those without a usable one."""
    errors: dict[int, list[Any]] = {}
    loose: list[Any] = []
    for entry in status.get("Errors") or []:
        index = dindex(entry, count)
        (errors.setdefault(index, []) if index is not None else loose).append(entry)
    return errors, loose


def _successes(status: dict[str, Any], count: int) -> dict[int, dict[str, Any]]:
    """``{DIndex: {"Id", "Number"}}`` of the answer's ``SuccessEntitys``."""
    successes: dict[int, dict[str, Any]] = {}
    for entry in status.get("SuccessEntitys") or []:
        index = dindex(entry, count)
        if index is None and count == 1 and isinstance(entry, dict) and "DIndex" not in entry:
            index = 0  # one Model: an entry without DIndex can only be its own
        if index is not None:
            successes[index] = {"Id": entry.get("Id"), "Number": entry.get("Number")}
    return successes


@dataclass
class _Answer:
    """A save-like answer, indexed by ``DIndex``."""

    status: dict[str, Any]
    successes: dict[int, dict[str, Any]]
    errors: dict[int, list[Any]]
    loose: list[Any]
    returned: Any
    quote: Callable[[str], str]

    def verdict(self, save: SaveCall, index: int) -> Outcome:
        """Model ``index``: failed by its errors, acknowledged by its success entry, else not
        acknowledged (an error quoting the answer, whatever ``IsSuccess`` says)."""
        mine = self.errors.get(index, [])
        code = msg_code(self.status)
        if mine or (self.loose and index not in self.successes):
            text = error_text(mine + self.loose)
            return Outcome("", False, {"MsgCode": code, "Errors": mine + self.loose}, text, False)
        if index in self.successes:
            response = dict(self.successes[index])
            returned = self.returned
            if isinstance(returned, list) and len(returned) == len(save.owners) and returned[index]:
                response["NeedReturnData"] = returned[index]
            return Outcome("", True, response, None, False)
        answer = orjson.dumps(self.status, default=str).decode()
        text = (
            f"MsgCode {code}: the {save.operation} answer does not acknowledge Model[{index}] "
            f"(no SuccessEntitys entry with DIndex {index}, IsSuccess {is_success(self.status)}): "
            f"{self.quote(answer)}"
        )
        return Outcome("", False, {"MsgCode": code, "IsSuccess": is_success(self.status)}, text, False)
