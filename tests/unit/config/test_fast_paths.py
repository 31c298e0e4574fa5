"""The shortcuts taken for speed accept exactly what the slow, obvious code accepts."""

from __future__ import annotations

import ipaddress

import pytest

from provisioner.config.rules.base import ip_int
from provisioner.model.base import IPV4_RE

SAMPLES = [
    "0.0.0.0",
    "255.255.255.255",
    "198.18.0.1",
    "10.1.2.300",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.04",
    "1.2.3",
    "1.2.3.4.5",
    "1..2.3",
    "1.2.3.-4",
    "+1.2.3.4",
    " 1.2.3.4",
    "1.2.3.4\n",
    "\u0661.\u0662.\u0663.\u0664",  # Arabic-Indic digits: str.isdigit() is true, IPv4Address refuses them
    "0x1.2.3.4",
    "",
]


def _ipaddress_accepts(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", SAMPLES)
def test_ipv4_regex_matches_ipaddress(value: str) -> None:
    assert bool(IPV4_RE.fullmatch(value)) == _ipaddress_accepts(value)


@pytest.mark.parametrize("value", SAMPLES)
def test_ip_int_matches_ipaddress(value: str) -> None:
    expected = int(ipaddress.IPv4Address(value.strip())) if _ipaddress_accepts(value.strip()) else None
    assert ip_int(value) == expected
