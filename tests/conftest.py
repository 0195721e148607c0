"""What every test may rely on, wherever the suite is started from."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from policy_agent.domain import DomainPack, load_pack

HOTEL = Path(__file__).resolve().parents[1] / "domains" / "hotel"


# Hypothesis's own clocks are wall-clock bounds: a 200 ms deadline per example, and a health check
# that fails a test whose examples are slow to generate. On a busy machine both fail tests that
# are right, so the suite has neither; a test's own @settings still sets everything else.
settings.register_profile(
    "suite", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    """Children the tests Ctrl-C must be able to hear it.

    A shell without job control starts a background command (`bash .ci/run &`, a CI runner's
    script) with SIGINT ignored, and its children inherit that: a `policy-agent run` or
    `serve-script` the tests interrupt would run on until killed. Python's own handler, set here,
    is what a child gets back (a handled signal is reset to its default across exec).
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def hotel() -> DomainPack:
    """The shipped hotel pack (`domains/hotel`), loaded once; a test changes a copy of it."""
    return load_pack(HOTEL)
