"""More string functions: ``SUBSTRING_INDEX``, ``REPEAT``, ``FIELD``, ``FORMAT``, ``HEX`` ...

Positions and counts are characters; byte-level functions (``HEX``, ``ASCII``, ``ORD``,
``BIT_LENGTH``, ``TO_BASE64``) see the UTF-8 bytes of the text, as MariaDB does with
``utf8mb4``. Functions that give a *binary* string in MariaDB (``UNHEX``, ``FROM_BASE64``,
``CHAR``) give text here: the bytes decoded as UTF-8; bytes that are not UTF-8 fail the record.
Integer arguments convert as MariaDB's ``val_int`` (``1.5`` → 2, ``'2x'`` → 2).
"""

from __future__ import annotations

import base64
import binascii
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from ferry.expr.function._compare import ci, ci_key
from ferry.expr.function._convert import DEC, quantum, str_to_int, to_decimal, to_double, to_str
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, fail, rule
from ferry.expr.function._strings import _MAX_RESULT, _as_int, _as_str, _call, _strings
from ferry.expr.function._types import INT_T, STR_T, Kind, SqlType

__all__ = ["decode_utf8"]

_MASK64 = 2**64 - 1


def decode_utf8(data: bytes, what: str) -> str:
    """``data`` as text; a RecordError when the bytes are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"{what} gives bytes that are not UTF-8 text ({data.hex().upper()})") from None


def _checked(size: int, name: str) -> None:
    if size > _MAX_RESULT:
        raise fail(f"{name} result of {size} characters is larger than max_allowed_packet")


def _text_then_ints(sx: Specializer, node: Node) -> list[Fn]:
    return [_as_str(*sx.spec(node.args[0])), *(_as_int(*sx.spec(n)) for n in node.args[1:])]


def _substring_index(text: str, delim: str, count: int) -> str:
    if not delim or count == 0:
        return ""
    parts = text.split(delim)
    return delim.join(parts[:count] if count > 0 else parts[count:])


def _repeat(text: str, count: int) -> str:
    if count <= 0 or not text:
        return ""
    _checked(len(text) * count, "REPEAT")
    return text * count


def _space(count: int) -> str:
    return _repeat(" ", count)


def _insert(text: str, pos: int, length: int, new: str) -> str:
    if pos < 1 or pos > len(text):
        return text
    start = pos - 1
    end = len(text) if length < 0 or length > len(text) - start else start + length
    return text[:start] + new + text[end:]


@rule("substring_index")
def _substring_index_rule(node: Node, sx: Specializer) -> Spec:
    fns = [*_strings(sx, node.args[:2]), _as_int(*sx.spec(node.args[2]))]
    return _call(fns, _substring_index), STR_T


@rule("repeat")
def _repeat_rule(node: Node, sx: Specializer) -> Spec:
    return _call(_text_then_ints(sx, node), _repeat), STR_T


@rule("space")
def _space_rule(node: Node, sx: Specializer) -> Spec:
    return _call([_as_int(*sx.spec(node.args[0]))], _space), STR_T


@rule("insert")
def _insert_rule(node: Node, sx: Specializer) -> Spec:
    text_fn = _as_str(*sx.spec(node.args[0]))
    pos_fn, len_fn = (_as_int(*sx.spec(n)) for n in node.args[1:3])
    fns = [text_fn, pos_fn, len_fn, _as_str(*sx.spec(node.args[3]))]
    return _call(fns, _insert), STR_T


@rule("reverse")
def _reverse(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), lambda s: s[::-1]), STR_T


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


@rule("bit_length")
def _bit_length(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), lambda s: 8 * len(_utf8(s))), INT_T


@rule("ascii")
def _ascii(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), lambda s: _utf8(s[:1])[0] if s else 0), INT_T


@rule("ord")
def _ord(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), lambda s: int.from_bytes(_utf8(s[:1]), "big") if s else 0), INT_T


@rule("strcmp")
def _strcmp(node: Node, sx: Specializer) -> Spec:
    def strcmp(a: str, b: str) -> int:
        ka, kb = ci_key(a), ci_key(b)
        return (ka > kb) - (ka < kb)

    return _call(_strings(sx, node.args), strcmp), INT_T


# -- FIELD, ELT, FIND_IN_SET, MAKE_SET, EXPORT_SET ------------------------------------------------


def _field_key(types: list[SqlType]) -> Any:
    """MariaDB's FIELD compares as strings when all are strings, as integers when all are
    integers, as decimals when all are exact numbers, else as doubles."""
    kinds = {t.kind for t in types if t.kind is not Kind.NULL}
    if kinds <= {Kind.STR}:
        return lambda v, t: ci_key(to_str(v, t))
    if kinds <= {Kind.INT}:
        return lambda v, t: v
    if kinds <= {Kind.INT, Kind.DEC}:
        return to_decimal
    return to_double


@rule("field")
def _field(node: Node, sx: Specializer) -> Spec:
    fns, types = sx.specs(node.args)
    key = _field_key(types)
    pairs = list(zip(fns[1:], types[1:], strict=True))
    x_fn, x_t = fns[0], types[0]

    def field(p: list[Any], e: Env) -> int:
        x = x_fn(p, e)
        if x is None:
            return 0
        wanted = key(x, x_t)
        for index, (fn, t) in enumerate(pairs, 1):
            value = fn(p, e)
            if value is not None and key(value, t) == wanted:
                return index
        return 0

    return field, INT_T


@rule("elt")
def _elt(node: Node, sx: Specializer) -> Spec:
    n_fn = _as_int(*sx.spec(node.args[0]))
    fns = _strings(sx, node.args[1:])

    def elt(p: list[Any], e: Env) -> str | None:
        n = n_fn(p, e)
        if n is None or not 1 <= n <= len(fns):
            return None
        return fns[n - 1](p, e)

    return elt, STR_T


def _find_in_set(needle: str, haystack: str) -> int:
    if not haystack or "," in needle:
        return 0
    wanted = ci(needle)
    for index, item in enumerate(haystack.split(","), 1):
        if ci(item) == wanted:
            return index
    return 0


@rule("find_in_set")
def _find_in_set_rule(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), _find_in_set), INT_T


@rule("make_set")
def _make_set(node: Node, sx: Specializer) -> Spec:
    bits_fn = _as_int(*sx.spec(node.args[0]))
    fns = _strings(sx, node.args[1:])

    def make_set(p: list[Any], e: Env) -> str | None:
        bits = bits_fn(p, e)
        if bits is None:
            return None
        bits &= _MASK64
        chosen = (fn(p, e) for i, fn in enumerate(fns) if bits >> i & 1)
        return ",".join(v for v in chosen if v is not None)

    return make_set, STR_T


def _export_set(bits: int, on: str, off: str, sep: str = ",", count: int = 64) -> str:
    count = 64 if count < 0 or count > 64 else count
    bits &= _MASK64
    return sep.join(on if bits >> i & 1 else off for i in range(count))


@rule("export_set")
def _export_set_rule(node: Node, sx: Specializer) -> Spec:
    fns = [_as_int(*sx.spec(node.args[0])), *_strings(sx, node.args[1:4])]
    fns += [_as_int(*sx.spec(n)) for n in node.args[4:]]
    return _call(fns, _export_set), STR_T


# -- HEX, UNHEX, BIN, OCT, CHAR, base64, QUOTE ---------------------------------------------------


def _hex_of_number(value: Any, t: SqlType) -> str:
    if t.kind is Kind.INT:
        number = value
    elif t.kind is Kind.DEC:
        number = int(value.quantize(Decimal(1), ROUND_HALF_UP, DEC))
    else:
        double = to_double(value, t)
        if double <= -(2.0**63) or double >= 2.0**64:
            return "F" * 16
        number = int(double + (0.5 if double > 0 else -0.5))
    number = max(-(2**63), min(number, _MASK64))
    return format(number & _MASK64, "X")


@rule("hex")
def _hex(node: Node, sx: Specializer) -> Spec:
    fn, t = sx.spec(node.args[0])
    if t.kind in (Kind.INT, Kind.DEC, Kind.DBL):
        return _call([fn], lambda v: _hex_of_number(v, t)), STR_T
    return _call([_as_str(fn, t)], lambda s: _utf8(s).hex().upper()), STR_T


def _unhex(text: str) -> str | None:
    if len(text) % 2:
        text = "0" + text
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    if any(ch.isspace() for ch in text):
        return None
    return decode_utf8(data, "UNHEX")


@rule("unhex")
def _unhex_rule(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), _unhex), STR_T


def _integer_text(text: str) -> int:
    """CONV's reading of a base-10 string: the integer prefix, wrapped to 64 bits."""
    number = str_to_int(text)
    return max(-_MASK64, min(number, _MASK64)) & _MASK64


@rule("bin", "oct")
def _bin_oct(node: Node, sx: Specializer) -> Spec:
    spec = "b" if node.op == "bin" else "o"
    return _call(_strings(sx, node.args), lambda s: format(_integer_text(s), spec)), STR_T


def _char_bytes(number: int) -> bytes:
    number &= 0xFFFFFFFF
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


@rule("char")
def _char(node: Node, sx: Specializer) -> Spec:
    fns = [_as_int(*sx.spec(n)) for n in node.args]

    def char(p: list[Any], e: Env) -> str:
        values = (fn(p, e) for fn in fns)
        data = b"".join(_char_bytes(v) for v in values if v is not None)
        return decode_utf8(data, "CHAR")

    return char, STR_T


def _to_base64(text: str) -> str:
    encoded = base64.b64encode(_utf8(text)).decode("ascii")
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _from_base64(text: str) -> str:
    compact = "".join(text.split())
    try:
        if len(compact) % 4:
            raise binascii.Error("incomplete group")
        data = base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise fail(f"FROM_BASE64 got text that is not base64 ({text[:40]!r})") from None
    return decode_utf8(data, "FROM_BASE64")


@rule("to_base64", "from_base64")
def _base64(node: Node, sx: Specializer) -> Spec:
    compute = _to_base64 if node.op == "to_base64" else _from_base64
    return _call(_strings(sx, node.args), compute), STR_T


_QUOTE_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\0": "\\0", "\x1a": "\\Z"})


@rule("quote")
def _quote(node: Node, sx: Specializer) -> Spec:
    (fn,) = _strings(sx, node.args)

    def quote(p: list[Any], e: Env) -> str:
        value = fn(p, e)
        return "NULL" if value is None else "'" + value.translate(_QUOTE_ESCAPES) + "'"

    return quote, STR_T


# -- SOUNDEX ---------------------------------------------------------------------------------------

_SOUNDEX_MAP = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "01230120022455012623010202", strict=True))


def _is_letter(ch: str) -> bool:
    return ch >= "\x80" or (ch.isascii() and ch.isalpha())


def _soundex(text: str) -> str:
    letters = [ch.upper() if ch.isascii() else ch for ch in text if _is_letter(ch)]
    if not letters:
        return ""
    out = [letters[0]]
    last = _SOUNDEX_MAP.get(letters[0], "0")
    for ch in letters[1:]:
        code = _SOUNDEX_MAP.get(ch, "0")
        if code != "0" and code != last:
            out.append(code)
            last = code
    return "".join(out).ljust(4, "0")


@rule("soundex")
def _soundex_rule(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), _soundex), STR_T


# -- FORMAT ----------------------------------------------------------------------------------------

_FORMATS: dict[tuple[str, str, int], str] = {
    (",", ".", 3): "ar_AE ar_BH ar_DZ ar_EG ar_IN ar_IQ ar_JO ar_KW ar_LB ar_LY ar_MA ar_OM ar_QA "
    "ar_SD ar_SY ar_TN ar_YE en_AU en_CA en_GB en_NZ en_PH en_US en_ZA en_ZW es_DO es_GT es_HN es_MX "
    "es_NI es_PA es_PE es_PR es_SV es_US gu_IN he_IL hi_IN ja_JP ko_KR ms_MY th_TH ur_PK zh_CN zh_HK zh_TW",
    ("", ".", 3): "ar_SA sr_RS",
    (".", ",", 3): "be_BY da_DK de_BE de_DE de_LU es_AR es_BO es_CL es_CO es_EC es_ES es_PY es_UY "
    "es_VE fo_FO hu_HU id_ID is_IS lt_LT mn_MN nb_NO no_NO ro_RO ru_UA sq_AL tr_TR uk_UA vi_VN",
    ("\0", ",", 3): "bg_BG",
    ("", ",", 3): "ca_ES de_AT el_GR eu_ES fr_BE fr_CA fr_CH fr_FR fr_LU gl_ES hr_HR it_IT nl_BE "
    "nl_NL pl_PL pt_BR pt_PT sl_SI",
    (" ", ",", 3): "cs_CZ es_CR et_EE fi_FI ka_GE lv_LV mk_MK ru_RU sk_SK sv_FI sv_SE",
    ("'", ".", 3): "de_CH",
    (",", ".", 2): "en_IN ta_IN te_IN",
    ("'", ",", 3): "it_CH rm_CH",
}
_LOCALES = {name.upper(): fmt for fmt, names in _FORMATS.items() for name in names.split()}
"""MariaDB's locales (upper-cased name) → (thousands separator, decimal point, grouping after
the first group of three: 3, or 2 for the Indian locales). An unknown name formats as en_US,
as MariaDB does (with a warning)."""
_EN_US = (",", ".", 3)
_WIDE = Context(prec=400, rounding=ROUND_HALF_UP, Emax=999999, Emin=-999999)


def _group(digits: str, sep: str, then: int) -> str:
    if not sep or len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > then:
        groups.append(head[-then:])
        head = head[:-then]
    return sep.join([head, *reversed(groups), tail])


def _format_number(number: Decimal, places: int, locale: str | None) -> str:
    sep, point, then = _LOCALES.get((locale or "").upper(), _EN_US)
    rounded = number.quantize(quantum(places), ROUND_HALF_UP, _WIDE)
    text = format(rounded.copy_abs(), "f")
    whole, _, frac = text.partition(".")
    sign = "-" if rounded.is_signed() and not rounded.is_zero() else ""
    return sign + _group(whole, sep, then) + (point + frac if frac else "")


def _rounded_double(value: float, places: int) -> Decimal:
    """MariaDB's ``my_double_round`` (scale, round half even, scale back), as exact digits."""
    scale = 10.0**places
    scaled = value * scale
    if not abs(scaled) < 2.0**63:  # too large to have digits after the point: unchanged
        return Decimal(repr(value))
    return Decimal(repr(round(scaled) / scale))


def _formatter(t: SqlType) -> Any:
    if t.kind in (Kind.INT, Kind.DEC):
        return lambda v, n, loc=None: _format_number(to_decimal(v, t), _places(n), loc)
    return lambda v, n, loc=None: _format_number(
        _rounded_double(to_double(v, t), _places(n)), _places(n), loc
    )


def _places(n: int) -> int:
    return max(0, min(n, 38))


@rule("format")
def _format(node: Node, sx: Specializer) -> Spec:
    """args: number, decimals[, locale]. A NULL locale formats as en_US."""
    fn, t = sx.spec(node.args[0])
    places_fn = _as_int(*sx.spec(node.args[1]))
    compute = _formatter(t)
    if len(node.args) == 2:
        return _call([fn, places_fn], compute), STR_T
    locale_fn = _as_str(*sx.spec(node.args[2]))

    def format_(p: list[Any], e: Env) -> str | None:
        value, places = fn(p, e), places_fn(p, e)
        if value is None or places is None:
            return None
        return compute(value, places, locale_fn(p, e))

    return format_, STR_T
