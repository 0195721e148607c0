"""Big YAML files' values kept as JSON, so that each is parsed as YAML once, not at every load.

PyYAML builds a Python node per value before ours builds the values: some 12 s of CPU for a
100,000-record database, where the standard library reads the same values from JSON in half a
second. So the value of a YAML file of `min_bytes` or more that loaded without problems is written
as JSON to `<folder>/<key>.json`, the key being the sha256 of the loader's version and the
file's bytes: a changed file, or a new loader, is a new key, never a stale value. Files are
written to a temporary name and renamed, so that a reader sees a whole entry or none.

The folder keeps the `max_entries` entries used last (a hit marks its entry used), so that
editing a big file again and again does not fill the disk.

The cache is never the reason a load fails: an entry that cannot be read or is not what was
written is a miss, and a folder that cannot be written to means no cache. The folder is
`$XDG_CACHE_HOME/policy-agent/yaml` (default `~/.cache/policy-agent/yaml`); it may be deleted
at any time. `POLICY_AGENT_YAML_CACHE=off` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

CACHE_SETTING = "POLICY_AGENT_YAML_CACHE"
"""The environment variable that turns the cache off: `off` (or `0`, `false`, `no`)."""
MIN_BYTES = 1_000_000
"""Smaller files parse in well under a second: not worth an entry."""
MAX_ENTRIES = 8
"""Entries kept: some 40 MB each at 100,000 records."""
LOADER_VERSION = f"1; PyYAML {yaml.__version__}; libyaml {getattr(yaml, '__with_libyaml__', 0)}"
"""Part of every key: raise the first number whenever the loader reads any value differently."""
_OFF = ("0", "off", "false", "no")


@dataclass(frozen=True, kw_only=True)
class YamlCache:
    """Where loaded YAML values are kept as JSON, and from what size on."""

    folder: Path
    min_bytes: int = MIN_BYTES
    max_entries: int = MAX_ENTRIES

    @classmethod
    def from_environment(cls) -> YamlCache | None:
        """The user's cache (the folder in the module's docstring), None if turned off."""
        if os.environ.get(CACHE_SETTING, "").strip().lower() in _OFF:
            return None
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):  # the XDG spec says to ignore a relative path
            try:
                base = str(Path.home() / ".cache")
            except RuntimeError:  # no home folder to be found
                return None
        return cls(folder=Path(base) / "policy-agent" / "yaml")

    def key(self, raw: bytes) -> str | None:
        """The entry's name for a file of these bytes; None for a file too small to cache."""
        if len(raw) < self.min_bytes:
            return None
        digest = hashlib.sha256(LOADER_VERSION.encode())
        digest.update(b"\0")
        digest.update(raw)
        return digest.hexdigest()

    def read(self, key: str) -> tuple[object] | None:
        """`(value,)` as written under `key`, or None on a miss (absent, unreadable, corrupt)."""
        path = self.folder / f"{key}.json"
        try:
            entry = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: kept over entries used longer ago
        return (entry["value"],)

    def write(self, key: str, value: object) -> None:
        """Keep `value` under `key`; does nothing when the folder cannot be written to."""
        # ASCII, every other character escaped: an entry holds any string exactly.
        text = json.dumps({"key": key, "value": value}, separators=(",", ":"))
        temporary: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="ascii") as file:
                file.write(text)
            os.replace(temporary, self.folder / f"{key}.json")
        except OSError:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            return
        self._forget_all_but_the_last_used()

    def _forget_all_but_the_last_used(self) -> None:
        def last_used(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:  # removed meanwhile by another process
                return 0.0

        entries = sorted(self.folder.glob("*.json"), key=last_used, reverse=True)
        for old in entries[self.max_entries :]:
            with contextlib.suppress(OSError):
                old.unlink()
