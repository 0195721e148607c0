"""Whether an interrupted run may be resumed: only with the same config and the same domain pack."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from pydantic import JsonValue

from policy_agent.records import canonical_json
from policy_agent.trajectory._errors import ResumeRefused
from policy_agent.trajectory._manifest import hashed_config

if TYPE_CHECKING:
    from policy_agent.trajectory._store import RunStore

_SHOWN_VALUE_LENGTH = 40
"""Old and new values up to this many characters (as JSON) are shown in the refusal."""


def check_resumable(
    store: RunStore,
    config_hash: str,
    domain_hash: str,
    *,
    config: Mapping[str, JsonValue] | None = None,
    domain_parts: Mapping[str, str] | None = None,
) -> None:
    """Raise `ResumeRefused` unless `store`'s run has this config hash and this domain hash.

    `config_hash` must be computed with the run's own `config_hash_excludes` (see
    `RunManifest`). With `config` (the new resolved config), the refusal names the top-level
    fields that differ, with their old and new values when they are short; with
    `domain_parts` (the pack's `content_parts`), the parts of the pack that changed.
    """
    manifest = store.manifest
    changes: list[str] = []
    if config_hash != manifest.config_hash:
        fields = (
            changed_fields(manifest.config, config, exclude=manifest.config_hash_excludes)
            if config is not None
            else []
        )
        if fields:
            changes.append(f"the run config changed: {'; '.join(fields)}")
        else:
            changes.append(
                f"the run config changed (its hash was {manifest.config_hash[:12]}, "
                f"now {config_hash[:12]})"
            )
    if domain_hash != manifest.domain_hash:
        parts = changed_parts(manifest.domain_parts, domain_parts or {})
        what = (
            f"{', '.join(parts)} {'differs' if len(parts) == 1 else 'differ'}"
            if parts
            else "its policy, tools, Python tool files, database or tasks differ"
        )
        changes.append(
            f"the domain pack {manifest.domain_name!r} changed (its hash was "
            f"{manifest.domain_hash[:12]}, now {domain_hash[:12]}): {what} from those the run "
            "started with"
        )
    if changes:
        raise ResumeRefused(store.directory, changes)


def changed_fields(
    old: Mapping[str, JsonValue], new: Mapping[str, JsonValue], *, exclude: Collection[str]
) -> list[str]:
    """The top-level fields that differ between two configs, outside `exclude`, described.

    Each is `name: old -> new` when both values are short, else `name` (plus `(added)` or
    `(removed)` when only one config has it).
    """
    before = hashed_config(old, exclude=exclude)
    after = hashed_config(new, exclude=exclude)
    described: list[str] = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            described.append(f"{name} (removed)")
        elif name not in before:
            described.append(f"{name} (added)")
        else:
            was = canonical_json(before[name]).decode()
            now = canonical_json(after[name]).decode()
            if was == now:
                continue
            short = max(len(was), len(now)) <= _SHOWN_VALUE_LENGTH
            described.append(f"{name}: {was} -> {now}" if short else name)
    return described


def changed_parts(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The parts of a pack whose hashes differ, `(added)` or `(no longer used)` when only one
    side has them; nothing when either side has no parts (a run from before they were kept)."""
    if not old or not new:
        return []
    described = []
    for name in sorted(old.keys() | new.keys(), key=lambda part: (part not in old, part)):
        if name not in new:
            described.append(f"{name} (no longer used)")
        elif name not in old:
            described.append(f"{name} (added)")
        elif old[name] != new[name]:
            described.append(name)
    return described
