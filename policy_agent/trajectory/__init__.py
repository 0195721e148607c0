"""Runs on disk: a run directory holds `run.json` (the manifest), `episodes.jsonl` and, for runs
with `record_tokens`, `tokens.jsonl` (each episode's token traces, `_tokens`).

```
store = RunStore.create(Path("runs"), RunManifest.start(config=..., exclude=..., ...))
store.append(episode)                       # one line, whole on disk when this returns
store.finish()
store = RunStore.resume(path, config_hash=..., domain_hash=..., config=..., domain_parts=...)
resumption = plan_resumption(store.episodes_path)   # what stands, what runs again
store.append(resumption.next_attempt(episode))      # a re-run supersedes the failed line
for line, episode in RunStore.open(path).latest_episodes():   # what every reader counts
    ...
index = load_index(store.episodes_path)     # episodes.index: each line's offset and attempt
```
The store is generic over the record model: any pydantic model is one line (`read` reads
them all). Episodes have attempts on top: a resume runs again those lost to infrastructure and
readers count each (task, trial)'s latest attempt (`_attempts`). docs/runs.md says what is
guaranteed after a crash and how resume works. A reader of one episode seeks to its line
through `episodes.index`, kept beside the run and brought up to date by `load_index` (`_index`).
"""

from policy_agent.trajectory._attempts import (
    Attempt,
    EpisodeKey,
    LatestAttempts,
    Resumption,
    index_attempts,
    is_retried_on_resume,
    iter_latest,
    iter_latest_as,
    plan_resumption,
)
from policy_agent.trajectory._errors import (
    AttemptConflict,
    CorruptLine,
    NotARun,
    RecordInvalid,
    ResumeRefused,
    RunExists,
    RunLocked,
    RunNotCreated,
    RunStoreError,
    RunStoreWarning,
    TokensMissing,
    describe_os_error,
    describe_validation_error,
)
from policy_agent.trajectory._ids import EpisodeRef, episode_id, parse_episode_id
from policy_agent.trajectory._index import (
    INDEX_NAME,
    IndexedLine,
    IndexSource,
    RunIndex,
    index_path,
    load_index,
)
from policy_agent.trajectory._lines import (
    EPISODES_NAME,
    Line,
    TornTail,
    iter_records,
    without_tokens,
)
from policy_agent.trajectory._manifest import (
    MANIFEST_NAME,
    RUN_ID_PATTERN,
    AgentServer,
    PendingFile,
    RunManifest,
    Versions,
    collect_versions,
    config_hash,
    fsync_directory,
    new_run_id,
    write_atomically,
)
from policy_agent.trajectory._resume import changed_fields, changed_parts, check_resumable
from policy_agent.trajectory._schema import json_schema_of_line
from policy_agent.trajectory._store import RunStore
from policy_agent.trajectory._tokens import (
    TOKENS_NAME,
    TokenLine,
    TokenReader,
    UnreferencedTokens,
    find_unreferenced_tokens,
    generations,
    join_tokens,
    split_tokens,
    with_tokens,
)

__all__ = [
    "EPISODES_NAME",
    "INDEX_NAME",
    "MANIFEST_NAME",
    "RUN_ID_PATTERN",
    "TOKENS_NAME",
    "AgentServer",
    "Attempt",
    "AttemptConflict",
    "CorruptLine",
    "EpisodeKey",
    "EpisodeRef",
    "IndexSource",
    "IndexedLine",
    "LatestAttempts",
    "Line",
    "NotARun",
    "PendingFile",
    "RecordInvalid",
    "ResumeRefused",
    "Resumption",
    "RunExists",
    "RunIndex",
    "RunLocked",
    "RunManifest",
    "RunNotCreated",
    "RunStore",
    "RunStoreError",
    "RunStoreWarning",
    "TokenLine",
    "TokenReader",
    "TokensMissing",
    "TornTail",
    "UnreferencedTokens",
    "Versions",
    "changed_fields",
    "changed_parts",
    "check_resumable",
    "collect_versions",
    "config_hash",
    "describe_os_error",
    "describe_validation_error",
    "episode_id",
    "find_unreferenced_tokens",
    "fsync_directory",
    "generations",
    "index_attempts",
    "index_path",
    "is_retried_on_resume",
    "iter_latest",
    "iter_latest_as",
    "iter_records",
    "join_tokens",
    "json_schema_of_line",
    "load_index",
    "new_run_id",
    "parse_episode_id",
    "plan_resumption",
    "split_tokens",
    "with_tokens",
    "without_tokens",
    "write_atomically",
]
