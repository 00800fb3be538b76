"""How a page names a scheme: by its id when the id reads well, by its name when the id is opaque.

Helper schemes carry the id another scheme's ``_mongoQuery`` names, often a UUID
(``caf5709b-629b-3414-8bb2-97c82ce8c366``): a page shows such a scheme by its name
(``金蝶云星空-销售订单(查询)``) with the id's first block beside it, and the full id on hover.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["SchemeRef", "is_opaque", "referenced", "scheme_namer"]

_OPAQUE = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{24,}", re.IGNORECASE)


def is_opaque(scheme_id: str) -> bool:
    """Whether ``scheme_id`` is a UUID or a long hex key (a Mongo ObjectId) that says nothing to a reader."""
    return _OPAQUE.fullmatch(scheme_id) is not None


@dataclass(frozen=True)
class SchemeRef:
    """A scheme as a page shows it: ``title`` first, ``subtitle`` beside it, ``id`` on hover."""

    id: str
    name: str

    @property
    def title(self) -> str:
        """The name for an opaque id (when known), else the id."""
        return self.name if self.name and is_opaque(self.id) else self.id

    @property
    def subtitle(self) -> str:
        """The id's first block for an opaque id, else the name (empty when it adds nothing)."""
        if is_opaque(self.id):
            return self.id[:8] + "…" if self.name else ""
        return self.name if self.name != self.id else ""


def scheme_namer(names: Mapping[str, str]) -> Callable[[str], SchemeRef]:
    """``ref(scheme_id)``: the :class:`SchemeRef` of an id (an unknown id keeps no name)."""

    def ref(scheme_id: str) -> SchemeRef:
        return SchemeRef(scheme_id, names.get(scheme_id, ""))

    return ref


def referenced(text: str, names: Mapping[str, str]) -> list[SchemeRef]:
    """The known schemes whose id appears in ``text`` (a ``_mongoQuery`` names one), in id order."""
    return [SchemeRef(i, names[i]) for i in sorted(names) if len(i) >= 8 and i in text]
