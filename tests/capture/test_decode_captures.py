"""Real captures decode like tshark reads them: the shared Log4Shell captures (Ethernet and
Linux cooked v1) and a live `dumpcap -i any` capture (pcapng, Linux cooked v2)."""

from __future__ import annotations

import pytest

from tests.capture.captures_live import ADDR6_B, record_sll2_traffic
from tests.capture.readers_oracle import our_rows, tshark_rows
from tests.conftest import LOG4SHELL_PCAPS

SHARED = sorted(p.name for p in LOG4SHELL_PCAPS.glob("*.pcap"))


@pytest.mark.parametrize("name", SHARED)
def test_shared_capture_decodes_like_tshark(shared_pcaps, tshark, name):
    path = shared_pcaps / name
    rows = our_rows(path)
    assert rows and rows == tshark_rows(tshark, path)


@pytest.fixture(scope="module")
def live_sll2(root, tshark, tmp_path_factory):
    """A real -i any capture of TCP (IPv4, IPv6) and UDP between two network namespaces."""
    return record_sll2_traffic(tmp_path_factory.mktemp("live") / "any.pcapng")


def test_live_any_capture_decodes_like_tshark(live_sll2, tshark):
    rows = our_rows(live_sll2)
    assert {"tcp", "udp"} <= {r[2] for r in rows} and ADDR6_B in {r[1] for r in rows}
    assert rows == tshark_rows(tshark, live_sll2)
