"""The canonical bytes of a JSON value: what every hash a run records is taken of."""

from __future__ import annotations

import json


def canonical_json(value: object) -> bytes:
    """The canonical form of a JSON value: what the database hash and the config hash digest.

    `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` encoded as UTF-8:
    keys sorted at every level, no whitespace, non-ASCII characters written as themselves.

    Here, in the leaf package, so that the store (`policy_agent.trajectory`), which hashes a
    run's config, needs none of the runtime that hashes databases (`policy_agent.environment`).
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")
