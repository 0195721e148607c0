"""The report tests' runs (the demo, the mixed run), shared here."""

from tests.report.conftest import demo, mixed

__all__ = ["demo", "mixed"]
