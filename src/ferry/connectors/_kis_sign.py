"""Kingdee KIS 云 request signing and common headers (docs/vendor-protocols.md §2.2-§2.3).

``KIS-Signature`` is the lowercase hex SHA-256 of five values concatenated without separators,
in this order: ``Kis-State + session_id + Kis-Traceid + session_secret + Kis-Timestamp``
(``getKisSignature`` in the ruiapp SDK). Every call after the token call carries it, with the
``Kis-*`` headers it is computed from; business calls add ``Kis-Authdata`` and
``X-Gw-Router-Addr`` from ``get_service_gateway``.
"""

from __future__ import annotations

import hashlib

__all__ = ["KIS_VERSION", "kis_headers", "kis_signature"]

KIS_VERSION = "1.0"
"""The ``Kis-Ver`` header value."""


def kis_signature(state: str, session_id: str, trace_id: str, session_secret: str, timestamp: str) -> str:
    """``KIS-Signature``: lowercase hex SHA-256 of the five values concatenated in this order."""
    text = f"{state}{session_id}{trace_id}{session_secret}{timestamp}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kis_headers(
    *,
    state: str,
    trace_id: str,
    timestamp: int,
    session_id: str | None = None,
    session_secret: str | None = None,
    auth_data: str | None = None,
    gw_router_addr: str | None = None,
) -> dict[str, str]:
    """The ``Kis-*`` headers of one call.

    With ``session_id`` and ``session_secret`` the call is signed (``KIS-Signature``); with
    ``auth_data`` and ``gw_router_addr`` it is routed to the customer's KIS service (business
    calls). ``timestamp`` is Unix seconds.
    """
    stamp = str(int(timestamp))
    headers = {
        "Kis-State": state,
        "Kis-Timestamp": stamp,
        "Kis-Traceid": trace_id,
        "Kis-Ver": KIS_VERSION,
    }
    if session_id is not None and session_secret is not None:
        headers["KIS-Signature"] = kis_signature(state, session_id, trace_id, session_secret, stamp)
    if auth_data is not None:
        headers["Kis-Authdata"] = auth_data
    if gw_router_addr is not None:
        headers["X-Gw-Router-Addr"] = gw_router_addr
    return headers
