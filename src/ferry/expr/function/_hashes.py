"""Hashes and checksums: ``MD5``, ``SHA1``/``SHA``, ``SHA2``, ``CRC32``, ``CRC32C``.

Each hashes the UTF-8 bytes of its argument's text (``MD5(12)`` hashes ``'12'``) and gives
lower-case hex, as MariaDB does; the checksums give the unsigned 32-bit integer.
``SHA2(x, n)`` takes n = 224, 256, 384, 512 or 0 (= 256); any other n is NULL with a warning
in MariaDB and fails the record here.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from ferry.expr.function._nodes import Env, Node, Spec, Specializer, fail, rule
from ferry.expr.function._strings import _as_int, _call, _strings
from ferry.expr.function._types import INT_T, STR_T

__all__: list[str] = []


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _digest(name: str) -> Any:
    return lambda text: hashlib.new(name, _utf8(text)).hexdigest()


@rule("md5", "sha1")
def _hash(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), _digest(node.op)), STR_T


_SHA2 = {0: "sha256", 224: "sha224", 256: "sha256", 384: "sha384", 512: "sha512"}


@rule("sha2")
def _sha2(node: Node, sx: Specializer) -> Spec:
    (text_fn,) = _strings(sx, node.args[:1])
    bits_fn = _as_int(*sx.spec(node.args[1]))

    def sha2(p: list[Any], e: Env) -> str | None:
        text = text_fn(p, e)
        if text is None:
            return None
        bits = bits_fn(p, e) or 0  # MariaDB reads a NULL length as 0, i.e. SHA-256
        name = _SHA2.get(bits)
        if name is None:
            raise fail(f"SHA2 hash length must be 224, 256, 384, 512 or 0 (got {bits})")
        return hashlib.new(name, _utf8(text)).hexdigest()

    return sha2, STR_T


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def _crc32c(data: bytes, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _checksum(op: str) -> Any:
    if op == "crc32":
        return lambda data, start: zlib.crc32(data, start)
    return lambda data, start: _crc32c(data, start)


@rule("crc32", "crc32c")
def _crc(node: Node, sx: Specializer) -> Spec:
    """args: [start,] text — the two-argument form continues a checksum (MariaDB 10.8)."""
    compute = _checksum(node.op)
    (text_fn,) = _strings(sx, node.args[-1:])
    if len(node.args) == 1:
        return _call([text_fn], lambda s: compute(_utf8(s), 0)), INT_T
    start_fn = _as_int(*sx.spec(node.args[0]))
    return _call([start_fn, text_fn], lambda n, s: compute(_utf8(s), n & 0xFFFFFFFF)), INT_T
