"""PodMap: who held an address at a given time."""

from __future__ import annotations

import pytest

from kubectl_netmon.enrich.podmap import PodInfo, PodMap, Span

WEB = PodInfo("default", "web-1", "node1", "172.31.0.1")
JOB = PodInfo("batch", "job-1", "node1", "172.31.0.1")
S = 1_000_000_000


def test_a_pod_added_without_times_holds_its_ip_at_any_time():
    pods = PodMap()
    pods.add("10.244.1.23", WEB)
    assert pods.lookup("10.244.1.23", 0) == WEB
    assert pods.lookup("10.244.1.23", 2_000_000_000 * S) == WEB


def test_an_unknown_ip_resolves_to_nothing():
    pods = PodMap()
    pods.add("10.244.1.23", WEB)
    assert pods.lookup("10.244.1.99", 5 * S) is None


def test_an_interval_holds_from_its_start_up_to_but_not_including_its_end():
    pods = PodMap()
    pods.add("10.244.1.23", JOB, 100 * S, 200 * S)
    assert pods.lookup("10.244.1.23", 100 * S) == JOB
    assert pods.lookup("10.244.1.23", 200 * S - 1) == JOB
    assert pods.lookup("10.244.1.23", 99 * S) is None
    assert pods.lookup("10.244.1.23", 200 * S) is None


def test_a_reused_ip_resolves_to_the_pod_that_had_it_at_that_time():
    pods = PodMap()
    pods.add("10.244.1.23", JOB, 100 * S, 200 * S)
    pods.add("10.244.1.23", WEB, 300 * S)
    assert pods.lookup("10.244.1.23", 150 * S) == JOB
    assert pods.lookup("10.244.1.23", 350 * S) == WEB


def test_where_intervals_overlap_the_latest_assignment_wins():
    pods = PodMap()
    pods.add("10.244.1.23", WEB)  # a snapshot's live pod: all time
    pods.add("10.244.1.23", JOB, 100 * S, 200 * S)  # an ended pod: its own lifetime
    assert pods.lookup("10.244.1.23", 150 * S) == JOB
    assert pods.lookup("10.244.1.23", 250 * S) == WEB


def test_end_closes_the_open_mapping_so_a_watch_can_record_a_pod_going_away():
    pods = PodMap()
    pods.add("10.244.1.23", WEB, 100 * S)
    pods.end("10.244.1.23", 200 * S)
    assert pods.lookup("10.244.1.23", 150 * S) == WEB
    assert pods.lookup("10.244.1.23", 250 * S) is None


def test_span_gives_the_holding_a_lookup_answers_from():
    pods = PodMap()
    pods.add("10.244.1.23", JOB, 100 * S, 200 * S)
    pods.add("10.244.1.23", WEB, 300 * S)
    assert pods.span("10.244.1.23", 150 * S) == Span(100 * S, 200 * S, JOB)
    assert pods.span("10.244.1.23", 250 * S) is None


def test_spans_list_every_holding_of_an_address_then_its_node():
    pods = PodMap()
    pods.add("172.31.0.1", JOB, 100 * S, 200 * S)
    pods.add_node("172.31.0.1", "node1")
    node = PodInfo("", "node1", "node1", "172.31.0.1", kind="node")
    assert pods.spans("172.31.0.1") == [Span(100 * S, 200 * S, JOB), Span(0, None, node)]
    assert pods.span("172.31.0.1", 250 * S) == Span(0, None, node)


def test_close_ends_the_holding_that_began_at_that_time_only():
    pods = PodMap()
    pods.add("10.244.1.23", JOB, 100 * S)
    pods.add("10.244.1.23", WEB, 300 * S)
    pods.close("10.244.1.23", 100 * S, JOB, 200 * S)
    assert [pods.lookup("10.244.1.23", t * S) for t in (150, 250, 350)] == [JOB, None, WEB]


def test_a_node_address_names_the_node_when_no_pod_has_it():
    pods = PodMap()
    pods.add_node("172.31.11.115", "node2")
    assert pods.lookup("172.31.11.115", 5 * S) == PodInfo("", "node2", "node2", "172.31.11.115",
                                                          kind="node")


def test_a_pod_with_the_address_wins_over_the_node():
    pods = PodMap()
    pods.add_node("172.31.11.115", "node2")
    pods.add("172.31.11.115", WEB)
    assert pods.lookup("172.31.11.115", 5 * S) == WEB


def test_ipv6_addresses_are_stored_in_the_form_the_decoder_writes():
    pods = PodMap()
    pods.add("FD00:0:0:0::17", WEB)
    assert pods.lookup("fd00::17", 5 * S) == WEB


def test_adding_something_that_is_not_an_address_is_refused():
    with pytest.raises(ValueError):
        PodMap().add("not-an-ip", WEB)


@pytest.mark.parametrize(("info", "label"), [(WEB, "default/web-1"),
                                             (PodInfo("", "node2", kind="node"), "node2")])
def test_label_is_namespace_slash_name_or_the_bare_node_name(info, label):
    assert info.label == label
