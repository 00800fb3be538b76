"""A ``_function`` result reaches its target as MariaDB prints it: QEasy runs the expression in
MySQL and reads its text, so ``{qty}+'3'`` is ``10`` in a JSON body and in a VARCHAR column,
never ``10.0``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ferry.expr import EvalContext, compile_value

CASES = [
    pytest.param("_function {{qty}}+'3'", {"qty": 7}, id="int-plus-numeric-text"),
    pytest.param("_function {{qty}}-7+'0'", {"qty": 7}, id="zero"),
    pytest.param("_function {{qty}}+'3.5'", {"qty": 7}, id="fraction"),
    pytest.param("_function POW(2, {{qty}})", {"qty": 10}, id="pow"),
    pytest.param("_function SQRT({{qty}})", {"qty": 16}, id="sqrt"),
    pytest.param("_function {{qty}}*1e14", {"qty": 9}, id="below-1e15"),
    pytest.param("_function {{qty}}*1e15", {"qty": 1}, id="exponent-from-1e15"),
    pytest.param("_function -0e0*{{qty}}", {"qty": 1}, id="negative-zero"),
    pytest.param("_function {{qty}}*1.5", {"qty": 7}, id="decimal"),
]


@pytest.mark.parametrize(("expression", "row"), CASES)
def test_a_result_written_to_a_varchar_column_reads_as_mariadb_writes_it(
    expression: str, row: dict[str, Any], mariadb_url: str, mariadb_raw: Any
) -> None:
    value = compile_value(expression).evaluate(EvalContext(row=row))
    sql = expression.removeprefix("_function ").replace("{{qty}}", str(row["qty"]))
    conn = mariadb_raw(mariadb_url.rsplit("/", 1)[1].split("?")[0])
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE TEMPORARY TABLE t (ferry VARCHAR(64), mariadb VARCHAR(64))")
        cursor.execute(
            f"INSERT INTO t VALUES (%s, {sql})", (value,)
        )  # Ferry's value, bound as a target binds it
        cursor.execute("SELECT ferry, mariadb FROM t")
        ((ferry, mariadb),) = cursor.fetchall()
    finally:
        conn.close()
    assert ferry == mariadb, f"{expression}: Ferry wrote {ferry!r}, MariaDB computes {mariadb!r}"


def test_a_whole_double_is_an_integer_in_a_json_body() -> None:
    value = compile_value("_function {{qty}}+'3'").evaluate(EvalContext(row={"qty": 7}))

    assert orjson.dumps({"qty": value}) == b'{"qty":10}'
    assert compile_value("_function {{qty}}+'3.5'").evaluate(EvalContext(row={"qty": 7})) == 10.5
