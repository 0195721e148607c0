"""The pack expression language (docs/expressions.md): a small, safe language of JSON values.

Packs write preconditions, computed values, messages and end-state assertions in it. Sources are
tokenized and parsed into an immutable tree when a pack loads, and a tree-walking interpreter
evaluates them; nothing in a pack is ever run as Python.
"""

from policy_agent.expressions._ast import to_source
from policy_agent.expressions._errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
)
from policy_agent.expressions._expression import Expression, compile_expression
from policy_agent.expressions._functions import FUNCTIONS
from policy_agent.expressions._scope import Scope, TableReader
from policy_agent.expressions._template import Template, compile_template

__all__ = [
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "Scope",
    "TableReader",
    "Template",
    "compile_expression",
    "compile_template",
    "to_source",
]
