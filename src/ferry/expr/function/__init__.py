"""``_function`` values: QEasy's MySQL expressions, compiled once, evaluated per record.

::

    cf = compile_function("_function {{price}}*{{qty}}")      # at scheme load; errors have columns
    cf.placeholders                                            # (Placeholder(price), Placeholder(qty))
    cf.evaluate(resolve, now)                                  # per record -> Decimal('37.50')
    run = cf.evaluator([get_price, get_qty], clock)            # once; then run(ctx) per record
    cursor.execute("SELECT " + cf.sql, cf.bind(resolve))       # the same on MariaDB

The expression is parsed once with sqlglot (MySQL dialect) and compiled to nested Python
closures; values are always *bound*, never spliced into SQL text, so a value containing
``'``, ``) or 1=1 --`` or a newline is just data.

Binding rules
-------------
1. ``_findCollection ... _endFind`` (and ``_mongoQuery ... _endFind``) spans are found first.
   Each is one bare parameter whose value is the lookup result (``resolve(span)``);
   placeholders inside a span belong to the lookup and are not listed separately.
2. Placeholders are found with :func:`ferry.expr.placeholders.scan`.
3. A placeholder inside a quoted string literal (``'...'`` or ``"..."``): the whole literal
   becomes ONE string parameter made of its text pieces (MySQL escapes applied) and the
   placeholder values rendered as text — ``None`` → ``''``, ``True`` → ``'true'``, a
   datetime → ``'YYYY-MM-DD HH:MM:SS'``, a Decimal without exponent, a list/dict as compact
   JSON. ``'{{a}}-x'`` is ``CONCAT(a, '-x')`` and never NULL.
4. A bare placeholder (``{{price}}*{{qty}}``) is bound as a *value*: numbers stay numbers (a
   float is bound as the DECIMAL its shortest text spells, exactly as QEasy's text
   substitution would write it); a numeric string becomes the number its text is as a MySQL
   literal (``'12'`` → 12, ``'12.50'`` → Decimal('12.50'), ``'1e3'`` → 1000.0); other strings
   stay strings (as a quoted literal would); ``None`` → NULL; ``True``/``False`` → 1/0; a
   date/datetime → its text. A list (array path) is allowed only inside the argument of
   ``SUM/AVG/MAX/MIN/COUNT``, where it is read as a column (see below); anywhere else it is a
   :class:`~ferry.errors.RecordError`. A bare placeholder glued to other text
   (``{{t}}000``) is a compile error: bound values cannot be concatenated by juxtaposition.
5. :attr:`CompiledFunction.sql` and :meth:`CompiledFunction.bind` apply the same rules, so
   MariaDB receives exactly what the evaluator computes with.

Semantics
---------
The result is what MariaDB 10.11 returns for ``SELECT <expr>`` with
``SET time_zone='+08:00'`` (and ``SET timestamp`` = ``now``), types included: ``int`` for
integer results; ``Decimal`` for exact numerics with MariaDB's scale rules
(``div_precision_increment`` = 4: ``1/3`` → ``0.3333``; ``1/3*3`` → ``1.0000``;
``ROUND(2.345, 2)`` → ``2.35``); ``float`` for string→number arithmetic (``'1.5'+1`` →
2.5); ``str`` for strings (``DATE_ADD`` on a string returns a string); ``date``/``datetime``
for temporal results; ``timedelta`` for a TIME. Comparisons use ``utf8mb4_general_ci``
(``'a' = 'A'`` is 1, trailing spaces ignored; modelled per character); booleans are 1/0;
branches of ``CASE``/``IF``/``IFNULL``/``COALESCE`` share one result type
(``CASE ... THEN 12.5*3 ELSE 'x' END`` gives the string ``'37.5'``).

Aggregates over arrays: ``SUM({{details.qty}})`` evaluates its argument once per element; all
lists inside one aggregate are walked in step (``SUM({{d.qty}}*{{d.price}})``) and must have
the same length; scalars repeat. The list is a column typed by all its elements (``SUM`` of
integers is ``Decimal('6')``, ``AVG`` adds 4 decimals). ``COUNT(*)`` is rejected.

The deliberate difference
-------------------------
Where MariaDB returns NULL with a warning — division (or ``DIV``/``MOD``) by zero, the
logarithm of a number <= 0 (``LN(0)``, ``LOG(1, 8)``), an invalid
date/datetime string given to a date function, ``STR_TO_DATE`` failing, ``FROM_UNIXTIME``/
``UNIX_TIMESTAMP`` outside the TIMESTAMP range — Ferry raises
:class:`~ferry.errors.RecordError` with the reason (``"division by zero in _function:
{{a}}/{{b}}"``), like MySQL strict mode: a silent NULL in an ERP document is lost data. Any
other runtime failure is also a RecordError. Warnings that keep a value (``'12abc'+0`` is
12, ``DAY('2024-05-01 junk')`` is 1) keep MariaDB's value.

Supported: arithmetic ``+ - * / DIV % MOD``, unary minus, bitwise ``& | ^ ~ << >>``,
``= <> != < <= > >= <=>``, ``INTERVAL(N, N1, ...)``,
``AND OR XOR NOT && || !``, ``IS [NOT] NULL/TRUE/FALSE``, ``[NOT] IN``, ``[NOT] BETWEEN``,
``[NOT] LIKE ... [ESCAPE]``, ``CASE`` (both forms), ``CAST``/``CONVERT`` and the functions in
:data:`SUPPORTED_FUNCTIONS`. ``SYSDATE()`` uses ``now`` too (MariaDB's reads the real clock).
"""

from ferry.expr.function._function import CompiledFunction, compile_function, render_text
from ferry.expr.function._functions import SUPPORTED as _SUPPORTED
from ferry.expr.function._source import LookupSpan

SUPPORTED_FUNCTIONS: tuple[str, ...] = tuple(_SUPPORTED)
"""Every function name a ``_function`` expression may call."""

__all__ = ["SUPPORTED_FUNCTIONS", "CompiledFunction", "LookupSpan", "compile_function", "render_text"]
