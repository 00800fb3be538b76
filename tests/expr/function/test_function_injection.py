"""Hostile values are data: the result is exactly the intended string, in Python and on MariaDB."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.expr.function import compile_function

HOSTILE = [
    pytest.param("'", id="lone-quote"),
    pytest.param("O'Brien", id="quote"),
    pytest.param(") or 1=1 --", id="or-1-equals-1"),
    pytest.param("x'); DROP TABLE t; -- ", id="drop-table"),
    pytest.param("line1\nline2\r\n", id="newlines"),
    pytest.param("C:\\temp\\new", id="backslashes"),
    pytest.param("\\'", id="escaped-quote"),
    pytest.param('say "hi"', id="double-quotes"),
    pytest.param("100%s %d %%", id="percent-formats"),
    pytest.param("nul\x00byte", id="nul-byte"),
    pytest.param("{{other}} _endFind", id="template-syntax"),
]

EXPRESSIONS = [
    pytest.param("_function '{{v}}'", id="quoted"),
    pytest.param('_function "{{v}}"', id="double-quoted"),
    pytest.param("_function CONCAT('{{v}}', '')", id="concat"),
    pytest.param("_function {{v}}", id="bare"),
    pytest.param("_function case '{{v}}' when 'x' then 'x' else '{{v}}' end", id="case"),
    pytest.param("_function IFNULL({{v}}, 'none')", id="ifnull"),
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_is_returned_unchanged(expression: str, value: str, mariadb_raw: Any) -> None:
    cf = compile_function(expression)

    def resolve(item: Any) -> str:
        return value

    assert cf.evaluate(resolve) == value
    conn = mariadb_raw(None)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT " + cf.sql, cf.bind(resolve))
        assert cursor.fetchall() == ((value,),)
    finally:
        conn.close()
