"""Runs on disk: a run directory holds `run.json` (the manifest) and `episodes.jsonl`.

```
store = RunStore.create(Path("runs"), RunManifest.start(config=..., exclude=..., ...))
store.append(episode)                       # one line, whole on disk when this returns
store.finish()
store = RunStore.resume(path, config_hash=..., domain_hash=..., config=...)
done = store.completed_keys(Episode, lambda e: (e.task_id, e.trial))
episodes = RunStore.open(path).read(Episode)
```
The store is generic over the record model: any pydantic model is one line. docs/runs.md says
what is guaranteed after a crash and how resume works.
"""

from policy_agent.trajectory._errors import (
    CorruptLine,
    NotARun,
    RecordInvalid,
    ResumeRefused,
    RunExists,
    RunLocked,
    RunStoreError,
    RunStoreWarning,
    describe_validation_error,
)
from policy_agent.trajectory._ids import EpisodeRef, episode_id, parse_episode_id
from policy_agent.trajectory._lines import EPISODES_NAME, Line, TornTail, iter_records
from policy_agent.trajectory._manifest import (
    MANIFEST_NAME,
    RUN_ID_PATTERN,
    RunManifest,
    Versions,
    collect_versions,
    config_hash,
    fsync_directory,
    new_run_id,
    write_atomically,
)
from policy_agent.trajectory._resume import changed_fields, check_resumable
from policy_agent.trajectory._schema import json_schema_of_line
from policy_agent.trajectory._store import RunStore

__all__ = [
    "EPISODES_NAME",
    "MANIFEST_NAME",
    "RUN_ID_PATTERN",
    "CorruptLine",
    "EpisodeRef",
    "Line",
    "NotARun",
    "RecordInvalid",
    "ResumeRefused",
    "RunExists",
    "RunLocked",
    "RunManifest",
    "RunStore",
    "RunStoreError",
    "RunStoreWarning",
    "TornTail",
    "Versions",
    "changed_fields",
    "check_resumable",
    "collect_versions",
    "config_hash",
    "describe_validation_error",
    "episode_id",
    "fsync_directory",
    "iter_records",
    "json_schema_of_line",
    "new_run_id",
    "parse_episode_id",
    "write_atomically",
]
