"""Imported tau2 packs for the bridge's tests, made once per session in a temporary folder.

The packs are generated, never committed (airline's database is megabytes); the folder is named
`domains/` so that the packs' Python paths resolve against the folder above it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from policy_agent.domain import DomainPack, load_pack
from policy_agent.tau2 import import_domain

_TEMPORARY = Path(tempfile.mkdtemp(prefix="policy-agent-tau2-"))
_ROOT = _TEMPORARY / "domains"
# Made at collection (the parity cases are sampled from the packs), so not a pytest tmp_path.
atexit.register(shutil.rmtree, _TEMPORARY, ignore_errors=True)


@functools.cache
def imported(domain: str) -> DomainPack:
    """tau2's `domain` (every task) as a pack, imported and loaded once per test session."""
    folder = _ROOT / f"tau2-{domain}"
    import_domain(domain, folder, task_split=None)
    return load_pack(folder)


@functools.cache
def tau2_tasks(domain: str) -> dict[str, Any]:
    """tau2's own tasks of `domain` by id."""
    import importlib

    module = importlib.import_module(f"tau2.domains.{domain}.environment")
    return {task.id: task for task in module.get_tasks(None)}


def tau2_environment(domain: str) -> Any:
    """A fresh tau2 environment of `domain` at its initial state."""
    import importlib

    return importlib.import_module(f"tau2.domains.{domain}.environment").get_environment()
