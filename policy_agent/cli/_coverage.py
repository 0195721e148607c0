"""`policy-agent coverage PACK [RUN ...]`: which tools, preconditions and rules a pack's tasks
exercise and its runs hit, and what nothing tests.

Exit codes: 0 when the table is printed (untested items are information, not a failure), 1 for
a pack that does not load (its problems printed), 2 for a folder that is not a run or a run of
another pack.
"""

from __future__ import annotations

from pathlib import Path

import click

from policy_agent.cli import main
from policy_agent.cli._run import _ConfigProblem


@main.command()
@click.argument(
    "pack_dir", metavar="PACK", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.argument(
    "run_dirs",
    metavar="[RUN ...]",
    nargs=-1,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print the coverage as JSON instead.")
def coverage(pack_dir: Path, run_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Which of PACK's tools, preconditions (refusing branches) and rules its tasks exercise
    and, given runs of PACK, which of them the runs hit; then the untested ones, one a line.
    """
    from policy_agent.cli._domain import load_pack_or_exit
    from policy_agent.cli._evaluation import _console, _open, _run_problems
    from policy_agent.report import build_coverage, render_coverage

    pack = load_pack_or_exit(pack_dir)
    runs = [_open(run_dir, "latest") for run_dir in run_dirs]
    for run, run_dir in zip(runs, run_dirs, strict=True):
        if run.manifest.domain_name != pack.name:
            raise _ConfigProblem(
                f"{run_dir} is a run of domain {run.manifest.domain_name!r}, not of {pack.name!r}; "
                "give runs of PACK"
            )
    with _run_problems():
        built = build_coverage(pack, runs)
    if as_json:
        click.echo(built.model_dump_json(indent=2))
    else:
        _console().print(render_coverage(built))
