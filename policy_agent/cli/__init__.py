"""The `policy-agent` command line. Each topic's commands live in their own `_topic.py` module.

Commands import heavy dependencies (litellm, Textual) inside their bodies, so that
`policy-agent --help`, `prompt`, `parse` and `validate` start fast.
"""

from __future__ import annotations

import click

from policy_agent import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="policy-agent")
def main() -> None:
    """Policy-driven customer-service agents for open reasoning models.

    Domain packs are YAML (policy, tools, database, tasks); the model sees exactly the prompt
    format it was trained on (Nemotron-Cascade-2 by default).
    """


# Each topic's module registers its commands on `main`; imported last to avoid a cycle
# (pyproject exempts this file from E402/F401 for that reason).
from policy_agent.cli import (
    _chat,
    _coverage,
    _domain,
    _evaluation,
    _format,
    _grammar,
    _replay,
    _rl,
    _run,
    _serve,
    _tau2,
)
