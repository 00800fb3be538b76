"""Pydantic models of QEasy metadata JSON (the source and target sides of a scheme).

Parsing is lenient where QEasy exports are (docs/architecture.md §4): ``effect`` and ``type`` are aliases
(``WRITE`` means ``EXECUTE``); field type names are case-insensitive and ``dateTime`` is
``datetime``; ``value: null`` is the same as absent; unknown keys are kept (``extra="allow"``)
so a user's existing metadata loads unchanged, and each key Ferry does not act on is a warning
(:mod:`ferry.scheme._catalogue`). Semantic checks that need the expression
compiler live in :mod:`ferry.scheme.validate`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from ferry.errors import Issue

__all__ = [
    "CONDITION_OPERATORS",
    "FIELD_TYPES",
    "ConditionRule",
    "FieldSpec",
    "Metadata",
    "OmissionRemedy",
    "OperationSpec",
    "ParserSpec",
    "SourceMetadata",
    "TargetMetadata",
]

FIELD_TYPES = (
    "string",
    "int",
    "float",
    "bool",
    "datetime",
    "date",
    "timestamp",
    "object",
    "array",
    "sql",
    "text",
)
_TYPE_ALIASES = {
    "str": "string",
    "integer": "int",
    "number": "float",
    "double": "float",
    "decimal": "float",
    "boolean": "bool",
    "long": "int",
    "json": "object",
    "list": "array",
    "time": "datetime",
}
CONDITION_OPERATORS = (
    "eq",
    "neq",
    "gt",
    "egt",
    "lt",
    "elt",
    "like",
    "notlike",
    "between",
    "notnull",
    "isnull",
    "in",
    "notin",
)

_LENIENT = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=False)


def _as_bool(value: Any) -> Any:
    """QEasy exports write booleans as true/false, "true"/"false", "1"/"0" or ""."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "null", "none"):
            return None
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
    return value


def _off_unless_set(value: Any) -> Any:
    value = _as_bool(value)
    return False if value is None else value


def _on_unless_set(value: Any) -> Any:
    value = _as_bool(value)
    return True if value is None else value


FlagOff = Annotated[bool, BeforeValidator(_off_unless_set)]
"""A bool that reads QEasy's spellings; empty or null means False."""
FlagOn = Annotated[bool, BeforeValidator(_on_unless_set)]
"""A bool that reads QEasy's spellings; empty or null means True."""


class ParserSpec(BaseModel):
    """A value parser applied after the value is computed, e.g. ``ConvertObjectParser``."""

    model_config = _LENIENT
    name: str = Field(description="Parser name, e.g. ConvertObjectParser, ArrayToString.")
    params: Any = Field(None, description="The parser's main parameter (key name, separator ...).")


class FieldSpec(BaseModel):
    """One item of ``request``/``otherRequest``/``response``/``takeOverRequest``."""

    model_config = _LENIENT
    field: str = Field(description="Parameter, column or target field name.")
    label: str | None = Field(None, description="Display name.")
    type: str = Field("string", description="Data type: " + ", ".join(FIELD_TYPES) + " (case-insensitive).")
    value: Any = Field(
        None, description="Constant or expression: {x}, {{x|fmt}}, _function, _findCollection, _mongoQuery."
    )
    describe: str | None = Field(None, description="Free-text description.")
    is_required: FlagOff = Field(
        False, description="The mapped value must not be empty (else the record fails)."
    )
    parent: str | None = Field(None, description="Name of the parent object/array field (flat layout).")
    parent_id: str | None = Field(None, description="Id of the parent item (flat layout with item ids).")
    id: str | None = Field(None, description="Item id (not the record id).")
    children: list[FieldSpec] = Field(default_factory=list, description="Members of an object/array field.")
    parser: ParserSpec | None = Field(None, description="Value parser applied to the computed value.")

    @field_validator("type", mode="before")
    @classmethod
    def _normalise_type(cls, value: Any) -> Any:
        if value is None or value == "":
            return "string"
        if isinstance(value, str):
            low = value.strip().lower()
            return _TYPE_ALIASES.get(low, low)
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in FIELD_TYPES:
            raise ValueError(f"unknown field type {value!r}; known: {', '.join(FIELD_TYPES)}")
        return value

    @field_validator("field", mode="before")
    @classmethod
    def _field_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("parser", mode="before")
    @classmethod
    def _parser(cls, value: Any) -> Any:
        if value in ("", None, {}):
            return None
        if isinstance(value, str):
            return {"name": value}
        return value


class ConditionRule(BaseModel):
    """One filter test: ``{"field": "io_id", "logic": "eq", "value": "816403"}``."""

    model_config = _LENIENT
    field: str
    logic: str = Field(description="Operator: " + ", ".join(CONDITION_OPERATORS) + ".")
    value: Any = None
    strictMode: FlagOff = Field(False, description="Detail rows: drop the whole record if any row fails.")

    @field_validator("logic")
    @classmethod
    def _known(cls, value: str) -> str:
        low = value.strip().lower()
        if low not in CONDITION_OPERATORS:
            raise ValueError(f"unknown condition operator {value!r}; known: {', '.join(CONDITION_OPERATORS)}")
        return low


class OperationSpec(BaseModel):
    """How ledger records are packed into target calls (QEasy 加工厂 ``operation``)."""

    model_config = _LENIENT
    method: Literal["none", "batchArraySave", "merge"] = Field(
        "none",
        description="none: one record per call; batchArraySave: `rows` records per call; merge: group by keys.",
    )
    rows: int = Field(1, ge=1, le=10000, description="batchArraySave: records per call.")
    rowsKey: str = Field("array", description="batchArraySave: how the records are carried (Model array).")
    keys: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("keys", "headerGroup"),
        description="merge: header fields that identify one merged document.",
    )
    bodyName: str | None = Field(None, description="merge: the array field that collects the merged rows.")


class OmissionRemedy(BaseModel):
    """补漏: a wider sweep on its own crontab with some request fields taken over."""

    model_config = _LENIENT
    crontab: str | None = None
    adapter: str | None = None
    takeOverRequest: list[FieldSpec] = Field(default_factory=list)


class Metadata(BaseModel):
    """Fields common to both sides."""

    model_config = _LENIENT
    api: str = Field(
        min_length=1, description="API, method or statement name (ExecuteBillQuery, batchexecute ...)."
    )
    effect: str = Field(
        validation_alias=AliasChoices("effect", "type"), description="QUERY (source) or EXECUTE (target)."
    )
    method: str = Field("POST", description="HTTP verb, or SQL for database adapters.")
    idCheck: FlagOn = Field(True, description="Skip records whose id is already in the ledger.")
    request: list[FieldSpec] = Field(default_factory=list)
    otherRequest: list[FieldSpec] = Field(default_factory=list)
    operation: OperationSpec | None = None

    _warnings: list[Issue] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[Issue]:
        """The keys of the document as written that Ferry does not act on (warnings, filled by
        :func:`ferry.scheme.loader.parse_metadata`; see :mod:`ferry.scheme._catalogue`)."""
        return list(self._warnings)

    @model_validator(mode="before")
    @classmethod
    def _effect_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "effect" in data and "type" in data:
            a, b = str(data["effect"]).upper(), str(data["type"]).upper()
            a, b = ("EXECUTE" if a == "WRITE" else a), ("EXECUTE" if b == "WRITE" else b)
            if a != b:
                raise ValueError(
                    f"effect {data['effect']!r} and type {data['type']!r} disagree; keep one of them"
                )
        return data

    @field_validator("effect", mode="before")
    @classmethod
    def _effect(cls, value: Any) -> Any:
        if isinstance(value, str):
            up = value.strip().upper()
            return "EXECUTE" if up == "WRITE" else up
        return value

    def other(self, name: str) -> FieldSpec | None:
        """The ``otherRequest`` item called ``name``, if any."""
        return next((f for f in self.otherRequest if f.field == name), None)


class SourceMetadata(Metadata):
    """The source (query) side: what to fetch, filter and flatten."""

    effect: Literal["QUERY"] = Field(
        "QUERY",
        validation_alias=AliasChoices("effect", "type"),
        description="Always QUERY on the source side.",
    )
    id: str | None = Field(None, description="Field holding each record's unique id (dotted path allowed).")
    number: str | None = Field(
        None, description="Field shown and searched as the record's number (not unique)."
    )
    name: str | None = None
    response: list[FieldSpec] = Field(default_factory=list)
    otherResponse: list[FieldSpec] = Field(default_factory=list)
    condition: list[list[ConditionRule]] = Field(
        default_factory=list, description="Post-fetch filter: outer list OR, inner list AND."
    )
    beatFlat: list[str] = Field(default_factory=list, description="Explode each record by these arrays.")
    pagination: dict[str, Any] | None = None
    omissionRemedy: OmissionRemedy | None = None

    @field_validator("beatFlat", mode="before")
    @classmethod
    def _flat(cls, value: Any) -> Any:
        if value in (None, ""):
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("condition", mode="before")
    @classmethod
    def _cond(cls, value: Any) -> Any:
        if value in (None, ""):
            return []
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return [value]  # a single AND group written without the outer list
        return value


class TargetMetadata(Metadata):
    """The target (execute) side: the document template and how to write it."""

    effect: Literal["EXECUTE"] = Field(
        "EXECUTE", validation_alias=AliasChoices("effect", "type"), description="EXECUTE (alias WRITE)."
    )
    distributionOrg: str | None = Field(None, description="Kingdee base data: allocate to these org ids.")


FieldSpec.model_rebuild()
