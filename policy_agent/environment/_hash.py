"""The canonical hash of a database's content, kept up to date from the records that change.

Definition (scheme `adhash-shake256-4096`, the value of `SCHEME`):

1. each record contributes its *term*: the 512 bytes `shake_256(canonical_json([table, id,
   record])).digest(512)` read as a big-endian integer (`canonical_json` is the one the change
   records use: sorted keys, no spaces, UTF-8);
2. the database's *sum* is the sum of the terms of all its records, modulo 2**4096;
3. the hash is the sha256 (hex) of `canonical_json({"scheme": SCHEME, "sum": <the sum as 1024
   lowercase hex digits>, "tables": <the table names, sorted>})`.

Equal contents give equal hashes whatever the history; a table, id, field or value that differs
(`1` and `1.0` included, as in canonical JSON) gives a different one. Because the sum is a sum,
a write changes it by `term(after) - term(before)`: a copy-on-write database's hash costs what
it changed (the pack's own sum is computed once and shared), not the size of its tables.

This is AdHash (Bellare and Micciancio, "A New Paradigm for Collision-free Hashing", 1997).
The modulus is large because Wagner's k-tree algorithm ("A Generalized Birthday Problem", 2002)
finds colliding sums of many chosen terms in about 2**(2*sqrt(n)) steps for an n-bit modulus:
2**128 here, the best attack known: the hash rests on that problem being hard, not on SHA-256
alone.

Why not sha256 of the whole canonical JSON, as before: SHA-256 reads its input in order, the
state after each block depending on every block before it, so a changed record forces rehashing
every byte after it. At 100,000 records that is up to ~40 MB per hash: the hash of an episode's
state would cost what the whole database weighs, however little the episode changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from pydantic import JsonValue

from policy_agent.records import canonical_json

SCHEME = "adhash-shake256-4096"
_BYTES = 512
MODULUS = 1 << (8 * _BYTES)


def record_term(table: str, record_id: str, record: Mapping[str, JsonValue]) -> int:
    """What one record adds to its database's sum."""
    data = canonical_json([table, record_id, record])
    return int.from_bytes(hashlib.shake_256(data).digest(_BYTES), "big")


def table_sum(table: str, records: Iterable[tuple[str, Mapping[str, JsonValue]]]) -> int:
    """The sum of the terms of a table's records, modulo `MODULUS`."""
    return sum(record_term(table, record_id, record) for record_id, record in records) % MODULUS


def finish(tables: Iterable[str], total: int) -> str:
    """The hash of a database whose tables are `tables` and whose records sum to `total`."""
    digits = f"{total % MODULUS:0{2 * _BYTES}x}"
    content = {"scheme": SCHEME, "sum": digits, "tables": sorted(tables)}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def database_hash(tables: Mapping[str, Mapping[str, Mapping[str, JsonValue]]]) -> str:
    """The hash of plain tables, computed from scratch (what `Database.content_hash` keeps)."""
    total = sum(table_sum(table, records.items()) for table, records in tables.items())
    return finish(tables, total)
