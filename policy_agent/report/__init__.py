"""What a run scored, how two runs differ, and re-scoring a run after its pack changed.

```python
run = load_run(Path("runs/20250601-143045-hotel-3fa9c2"))   # newest evaluation's rewards, if any
report = build_report(run)                                  # RunReport: --json's shape
console.print(render_report(report))                        # rich tables, pass^k chart
write_png(report, Path("pass.png"))                         # needs the `plot` extra
write_html(run, report, Path("report.html"))                # one file, conversations included
comparison = build_comparison(run, load_run(other))         # beyond noise or not, flipped tasks
summary = combine_reports([report, build_report(load_run(other_domain))])   # pass^k across runs
rescoring = await rescore_run(run, load_pack(pack_dir))     # the pack as it is now
write_evaluation(run.directory, rescoring.manifest, rescoring.lines)   # never episodes.jsonl
with EvaluationDraft(run.directory) as draft:               # a big run: lines streamed to disk
    draft.commit((await rescore_run(run, pack, write=draft.write)).manifest)
coverage = build_coverage(load_pack(pack_dir), [run])     # what the tasks and runs leave untested
failures = report_gate_failures(report, [parse_threshold("reward=0.8")], [])   # CI gates
```
"""

from policy_agent.report._build import build_comparison, build_report
from policy_agent.report._combined import (
    CombinedMetric,
    RunsSummary,
    combine_reports,
    render_runs_summary,
)
from policy_agent.report._coverage import (
    PackCoverage,
    PreconditionCoverage,
    RuleCoverage,
    ToolCoverage,
    build_coverage,
    render_coverage,
)
from policy_agent.report._evaluations import (
    EVALUATIONS_DIR,
    EvaluationDraft,
    EvaluationFileError,
    EvaluationManifest,
    EvaluationRewards,
    RescoredEpisode,
    evaluation_names,
    new_evaluation_name,
    open_evaluation,
    read_evaluation,
    write_evaluation,
)
from policy_agent.report._gates import (
    GateError,
    MetricThreshold,
    RuleGate,
    comparison_gate_failures,
    parse_metric_name,
    parse_rule_gate,
    parse_threshold,
    report_gate_failures,
)
from policy_agent.report._html import render_html, write_html
from policy_agent.report._model import (
    EpisodeCounts,
    FlippedTask,
    MetricComparison,
    MetricEstimate,
    RoleUsage,
    RunComparisonReport,
    RunReport,
    TaskResult,
    ToolUsage,
)
from policy_agent.report._plot import PlotUnavailable, pass_hat_chart, write_png
from policy_agent.report._reading import ReadEpisode
from policy_agent.report._rescore import (
    Rescoring,
    RewardChange,
    RuleCount,
    rescore_run,
)
from policy_agent.report._rules import (
    RuleBreachedEpisode,
    RuleSummary,
    render_rules,
    rule_summaries,
)
from policy_agent.report._runs import LATEST, RECORDED, LoadedRun, load_run, run_config
from policy_agent.report._tables import render_comparison, render_report

__all__ = [
    "EVALUATIONS_DIR",
    "LATEST",
    "RECORDED",
    "CombinedMetric",
    "EpisodeCounts",
    "EvaluationDraft",
    "EvaluationFileError",
    "EvaluationManifest",
    "EvaluationRewards",
    "FlippedTask",
    "GateError",
    "LoadedRun",
    "MetricComparison",
    "MetricEstimate",
    "MetricThreshold",
    "PackCoverage",
    "PlotUnavailable",
    "PreconditionCoverage",
    "ReadEpisode",
    "RescoredEpisode",
    "Rescoring",
    "RewardChange",
    "RoleUsage",
    "RuleBreachedEpisode",
    "RuleCount",
    "RuleCoverage",
    "RuleGate",
    "RuleSummary",
    "RunComparisonReport",
    "RunReport",
    "RunsSummary",
    "TaskResult",
    "ToolCoverage",
    "ToolUsage",
    "build_comparison",
    "build_coverage",
    "build_report",
    "combine_reports",
    "comparison_gate_failures",
    "evaluation_names",
    "load_run",
    "new_evaluation_name",
    "open_evaluation",
    "parse_metric_name",
    "parse_rule_gate",
    "parse_threshold",
    "pass_hat_chart",
    "read_evaluation",
    "render_comparison",
    "render_coverage",
    "render_html",
    "render_report",
    "render_rules",
    "render_runs_summary",
    "report_gate_failures",
    "rescore_run",
    "rule_summaries",
    "run_config",
    "write_evaluation",
    "write_html",
    "write_png",
]
