"""The root of every error policy-agent raises: `except PolicyAgentError` catches them all.

Each package raises its own subclasses, named after its layer and re-exported from it, and each
message names the file, field, model or server concerned and says what to do:

- `PackError` (a pack that does not load; every problem with its `file:line`), `SourceError`,
  `DocumentError` (YAML and JSON read with positions), `ConfigError` (a run config);
- `ExpressionError` (`ExpressionSyntaxError`, `ExpressionEvaluationError`);
- `ToolError` (raised by a tool to refuse a call: the model reads it), `ToolDefinitionError`,
  `AssertionCheckError`, `InitialStateError`;
- `LLMError` (`ServerUnreachable`, `ServerError`, `RateLimited`, `RequestRejected`, `LLMTimeout`,
  `ContextLengthExceeded`, `MalformedResponse`, `MissingAPIKey`), wrapped per role in
  `AgentModelError` and `UserModelError`; `UserGaveUp`, `UserSetupError`;
- `EvaluationError` (`JudgeRequired`, `UnknownTask`), `JudgeAnswerError`, `EvaluationFileError`;
- `RunStoreError` (`RunExists`, `NotARun`, `RunLocked`, `CorruptLine`, `RecordInvalid`,
  `ResumeRefused`), `WorkerProcessFailed`;
- `ScriptError`, `ScriptFromRunError`, `Tau2Error`, `FunctionSpecError`, export errors.

Errors that also are a `ValueError` (a bad value given to a function) keep that base too.
"""

from __future__ import annotations

__all__ = ["PolicyAgentError"]


class PolicyAgentError(Exception):
    """Something policy-agent could not do; the message says what and what to do about it."""
