"""Telling a store that refuses rows from a store that is away.

A refused row (a value its column cannot hold, a constraint it breaks, a column the table
lacks) fails the same way however often it is sent, so retrying or spooling it would only
hold its whole batch back for ever: the writer stores the rest and quarantines it. Anything
else (a connection that failed, a timeout, a lock, a server error not about the data) is
the store being away, and the batch is retried and spooled.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

from llmtel.exporters.clickhouse.location import StoreLocked, StoreUnavailable

# ClickHouse error codes that are about the rows sent, not the server's state.
DATA_ERROR_CODES: Final = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        33,  # CANNOT_READ_ALL_DATA
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        43,  # ILLEGAL_TYPE_OF_ARGUMENT
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        469,  # VIOLATED_CONSTRAINT
    }
)
# Raised by the client while it encodes the rows: the data, never the connection.
_ENCODING_ERRORS: Final = (TypeError, ValueError, OverflowError, AttributeError, KeyError, IndexError, struct.error)
_CODE: Final = re.compile(r"Code: (\d+)")


def rejects_rows(exc: BaseException) -> bool:
    """True when ``exc`` says the store refuses the rows themselves (see the module doc)."""
    if isinstance(exc, (StoreLocked, StoreUnavailable, ConnectionError, TimeoutError)):
        return False
    if isinstance(exc, _ENCODING_ERRORS):
        return True
    try:
        from clickhouse_connect.driver.exceptions import DataError, ProgrammingError
    except ImportError:  # pragma: no cover - the writer needs clickhouse-connect anyway
        return False
    if isinstance(exc, (DataError, ProgrammingError)):
        return True
    match = _CODE.search(str(exc))
    return match is not None and int(match.group(1)) in DATA_ERROR_CODES


def reason_of(exc: BaseException) -> str:
    """The store's error in one line, for the quarantine and the log."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}"[:500]


Rows = Sequence[Sequence[Any]]


def isolate(
    insert: Callable[[Rows], None], rows: Rows, error: BaseException
) -> tuple[list[Rows], list[tuple[Sequence[Any], str]], int]:
    """Rows the store rejected (``error``) for their data, split in halves and sent again until
    the rows it refuses are alone: (chunks not sent because the store stopped answering
    meanwhile, the refused rows with the store's error for each, how many rows were stored)."""
    bad: list[tuple[Sequence[Any], str]] = []
    stack: list[Rows] = []
    stored = 0
    if len(rows) == 1:
        bad.append((rows[0], reason_of(error)))
    else:
        stack += [rows[len(rows) // 2 :], rows[: len(rows) // 2]]
    while stack:
        chunk = stack.pop()
        try:
            insert(chunk)
        except Exception as exc:
            if not rejects_rows(exc):
                return [chunk, *reversed(stack)], bad, stored
            if len(chunk) == 1:
                bad.append((chunk[0], reason_of(exc)))
            else:
                stack += [chunk[len(chunk) // 2 :], chunk[: len(chunk) // 2]]
            continue
        stored += len(chunk)
    return [], bad, stored
