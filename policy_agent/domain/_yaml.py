"""The YAML loading the domain modules use, from `policy_agent.yamlsource` where it lives."""

from policy_agent.yamlsource import MAX_DEPTH as MAX_DEPTH
from policy_agent.yamlsource import Document as Document
from policy_agent.yamlsource import DocumentIssue as DocumentIssue
from policy_agent.yamlsource import Loc as Loc
from policy_agent.yamlsource import SourceError as SourceError
from policy_agent.yamlsource import load_yaml as load_yaml
from policy_agent.yamlsource import read_text as read_text
