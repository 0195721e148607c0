"""YAML and JSON files read safely with the line of every value, and models validated against them.

What the domain packs, run configs and scripted-server scripts share: YAML 1.2 safe loading that
refuses tags and reports duplicate keys (`load_yaml`; a big file's value kept as JSON in a
`YamlCache`), the same for JSON (`load_json`), and pydantic's errors turned into
`file:line: field: message` with "did you mean" hints (`validate_document`, `explain`).
It imports nothing else of policy_agent, so anything may use it.
"""

from policy_agent.yamlsource._cache import CACHE_SETTING, YamlCache
from policy_agent.yamlsource._explain import Explanation, explain, field_path
from policy_agent.yamlsource._json import load_json
from policy_agent.yamlsource._validate import DocumentError, SourceProblem, validate_document
from policy_agent.yamlsource._wording import closest, describe, show_value
from policy_agent.yamlsource._yaml import (
    MAX_DEPTH,
    MAX_VALUES,
    CoreSchemaLoader,
    Document,
    DocumentIssue,
    Loc,
    SourceError,
    load_yaml,
    read_text,
    special_file_kind,
)

__all__ = [
    "CACHE_SETTING",
    "MAX_DEPTH",
    "MAX_VALUES",
    "CoreSchemaLoader",
    "Document",
    "DocumentError",
    "DocumentIssue",
    "Explanation",
    "Loc",
    "SourceError",
    "SourceProblem",
    "YamlCache",
    "closest",
    "describe",
    "explain",
    "field_path",
    "load_json",
    "load_yaml",
    "read_text",
    "show_value",
    "special_file_kind",
    "validate_document",
]
