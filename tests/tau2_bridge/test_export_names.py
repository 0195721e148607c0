"""The domain name a tau2 export carries: tau2's own for an imported pack, else the pack's.

Needs no tau2-bench (test_export.py checks that tau2's tools then find the domain).
"""

from __future__ import annotations

import dataclasses

import pytest

from policy_agent.domain import load_pack
from policy_agent.export._tau2 import _tau2_domain_name
from tests.simulation._support import HOTEL


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("tau2_airline", "airline"),
        ("tau2_mock", "mock"),
        ("hotel", "hotel"),
        ("tau2_hotel", "tau2_hotel"),  # not a domain tau2 knows: the pack's own name
        ("airline", "airline"),
    ],
)
def test_an_imported_pack_is_exported_under_tau2s_domain_name(name: str, written: str) -> None:
    pack = dataclasses.replace(load_pack(HOTEL), name=name)
    assert _tau2_domain_name(pack) == written
