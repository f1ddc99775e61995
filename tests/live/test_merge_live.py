"""Merging real dumpcap streams from our own network namespaces (a node with a bridge and two
pods): every ping counts once although each capture point saw it. Needs root and dumpcap."""

from __future__ import annotations

import shutil
import threading
from contextlib import ExitStack

import pytest

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.merge import MergedStreams, Source
from tests.live.fixtures import POD_B, dumpcap, local_node, ping

PINGS = 5

pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")


def merge_while_pinging(points: list[tuple[str, str, int]]) -> tuple[MergedStreams, list]:
    """Capture at each (namespace-role, interface, packets expected) while pod A pings pod B."""
    with local_node() as node, ExitStack() as stack:
        sources = []
        for role, iface, count in points:
            ns = getattr(node, role)
            sources.append(Source(role, stack.enter_context(dumpcap(ns, iface, count))))
        merged = MergedStreams(sources, duration_s=60)  # a bound, should pings go missing
        pinger = threading.Thread(target=ping, args=(node.pod_a, POD_B, PINGS))
        pinger.start()
        decoded = list(packets(merged, DecodeStats()))
        pinger.join()
    return merged, decoded


def test_a_ping_between_two_captured_pods_counts_once(root):
    merged, decoded = merge_while_pinging([("pod_a", "eth0", 2 * PINGS),
                                           ("pod_b", "eth0", 2 * PINGS)])

    assert len(decoded) == 2 * PINGS  # each request and reply once
    assert merged.stats.duplicates == 2 * PINGS
    assert [s.packets for s in merged.streams] == [2 * PINGS, 2 * PINGS]


def test_a_node_capture_on_any_interface_counts_each_packet_once(root):
    """The node sees a bridged packet on both veths (under one cooked interface), the pod once
    more: three sightings, one packet."""
    merged, decoded = merge_while_pinging([("node", "any", 4 * PINGS),
                                           ("pod_a", "eth0", 2 * PINGS)])

    assert len(decoded) == 2 * PINGS
    assert merged.stats.duplicates == 4 * PINGS


def test_merged_packets_are_in_capture_time_order(root):
    _, decoded = merge_while_pinging([("pod_a", "eth0", 2 * PINGS), ("pod_b", "eth0", 2 * PINGS)])

    times = [p.ts_ns for p in decoded]
    assert times == sorted(times)
