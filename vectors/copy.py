"""PostgreSQL's binary COPY format for rows of fixed-size columns, with numpy.

Bulk reads and writes of embeddings (a basis refit rewrites every face; the
search benchmark loads a million) go through COPY ... (FORMAT BINARY): each
row is a field count, then per field its byte length and big-endian value.
When every field has a fixed size, a batch of rows is one numpy structured
array, built or parsed without a Python loop per row.

    columns = (Column("id", "int8"), Column("embedding", "vector", 512))
    body = encode_rows(columns, len(ids), id=ids, embedding=vectors)
    copy.write(HEADER + body + TRAILER)
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = b"\xff\xff"

_SCALARS = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8"}


@dataclass(frozen=True)
class Column:
    """One fixed-size field: an integer or float type, ``bytes`` of ``size``
    bytes (text, or jsonb as version byte + text), or a pgvector ``vector``
    of ``size`` dimensions."""

    name: str
    type: str
    size: int = 0

    def fields(self) -> list[tuple]:
        n = self.name
        if self.type in _SCALARS:
            return [(f"{n}__len", ">i4"), (n, _SCALARS[self.type])]
        if self.type == "bytes":
            return [(f"{n}__len", ">i4"), (n, f"S{self.size}")]
        if self.type == "vector":  # int2 dimensions, int2 unused, float4 values
            return [
                (f"{n}__len", ">i4"),
                (f"{n}__dim", ">i2"),
                (f"{n}__unused", ">i2"),
                (n, ">f4", (self.size,)),
            ]
        raise ValueError(f"no fixed-size binary COPY form for {self.type!r}")

    @property
    def byte_length(self) -> int:
        if self.type in _SCALARS:
            return np.dtype(_SCALARS[self.type]).itemsize
        if self.type == "bytes":
            return self.size
        return 4 + 4 * self.size


def row_dtype(columns: Sequence[Column]) -> np.dtype:
    fields = [("fields__count", ">i2")]
    for column in columns:
        fields += column.fields()
    return np.dtype(fields)


def encode_rows(columns: Sequence[Column], count: int, **values) -> bytes:
    """``count`` rows (no header or trailer); each column's value is an array
    of ``count`` items, or one value for every row."""
    rows = np.zeros(count, row_dtype(columns))
    rows["fields__count"] = len(columns)
    for column in columns:
        rows[f"{column.name}__len"] = column.byte_length
        if column.type == "vector":
            rows[f"{column.name}__dim"] = column.size
        rows[column.name] = values[column.name]
    return rows.tobytes()


def decode_rows(data: bytes | bytearray | memoryview, columns: Sequence[Column]) -> np.ndarray:
    """The rows of a whole binary COPY output (header and trailer included)."""
    body = memoryview(data)[len(HEADER) : len(data) - len(TRAILER)]
    rows = np.frombuffer(body, dtype=row_dtype(columns))
    for column in columns:
        if (
            column.type == "vector"
            and len(rows)
            and (rows[f"{column.name}__dim"] != column.size).any()
        ):
            raise ValueError(f"{column.name}: rows of another size than {column.size}")
    return rows


def copy_out(cursor, sql: str, columns: Sequence[Column]) -> np.ndarray:
    """Run ``COPY (sql) TO STDOUT`` in binary and parse it (COPY takes no
    parameters: format only integers and fixed fragments into ``sql``)."""
    buffer = bytearray()
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        for block in copy:
            buffer += block
    return decode_rows(buffer, columns)
