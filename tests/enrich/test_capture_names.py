"""Pod context in a netmon pcapng: holdings written into Name Resolution Block comments are
read back exactly (node, node IP, times, dotted pod names), and only from netmon's sections."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.pcapng_write import PcapngWriter
from kubectl_netmon.capture.reader import open_capture
from kubectl_netmon.enrich.capture_names import (
    USERAPPL,
    RecordedPods,
    holder_comment,
    nrb_name,
    parse_holder_comment,
    written_by_netmon,
)
from kubectl_netmon.enrich.podmap import PodInfo, Span
from tests.capture.captures_gen import LINKTYPE_ETHERNET, T0_NS, ether_frames

S = 1_000_000_000
IP = "10.244.1.23"
# Pod names are DNS subdomains (dots allowed), namespaces DNS labels (no dots).
CART = PodInfo("shop", "cart.v2-7d9f", "node-1", "192.168.49.2")
JOB = PodInfo("batch", "job-1", "node-2", "192.168.49.3")
NODE = PodInfo("", "node-1", "node-1", "192.168.49.2", kind="node")
DB_SVC = PodInfo("shop", "db", kind="service")


def write_capture(path, userappl: str, blocks: list[tuple[list, list[str]]]) -> None:
    """A pcapng whose Name Resolution Blocks hold (names, comments), then one packet."""
    with open(path, "wb") as f:
        w = PcapngWriter(f, userappl)
        for names, comments in blocks:
            w.add_names(names, comments)
        w.write_packet(w.add_interface(LINKTYPE_ETHERNET), T0_NS, ether_frames()[0])


def read_map(path) -> RecordedPods:
    """The context map of a whole file, as analyze builds it."""
    with open_capture(str(path)) as reader:
        list(reader)
        return RecordedPods(reader.sections)


@pytest.mark.parametrize("span", [Span(0, None, CART), Span(5 * S, 9 * S, JOB),
                                  Span(0, None, NODE), Span(7, None, DB_SVC)],
                         ids=["dotted-pod", "ended-pod", "node", "service"])
def test_a_holding_round_trips_through_its_comment(span):
    assert parse_holder_comment(holder_comment(IP, span)) == (IP, span)


@pytest.mark.parametrize("text", [
    "db.example",
    'kubectl-netmon holder {"ip":"10.0.0.1"}',
    'kubectl-netmon holder {"ip":"nope","kind":"pod","ns":"a","name":"b","node":"","node_ip":"",'
    '"since_ns":0,"until_ns":null}',
    'kubectl-netmon holder {"ip":"10.0.0.1","kind":"pod","ns":"a","name":"b","node":"",'
    '"node_ip":"","since_ns":"0","until_ns":null}',
    'kubectl-netmon holder {"ip":"10.0.0.1","kind":"job","ns":"a","name":"b","node":"",'
    '"node_ip":"","since_ns":0,"until_ns":null}',
    "kubectl-netmon holder [1, 2]",
    "kubectl-netmon holder {",
], ids=["foreign", "fields-missing", "bad-ip", "time-as-text", "unknown-kind", "not-an-object",
        "bad-json"])
def test_other_or_malformed_comments_hold_nothing(text):
    assert parse_holder_comment(text) is None


def test_only_the_netmon_application_counts_as_netmon():
    assert written_by_netmon(USERAPPL) and written_by_netmon("kubectl-netmon 9.9.9")
    assert not written_by_netmon("Dumpcap (Wireshark) 4.0.17")
    assert not written_by_netmon("kubectl-netmonx 1.0")


def test_names_for_wireshark_put_the_namespace_last():
    assert nrb_name(CART) == "cart.v2-7d9f.shop"
    assert nrb_name(DB_SVC) == "db.shop.svc"
    assert nrb_name(NODE) is None


def test_a_netmon_file_restores_pod_node_and_node_ip(tmp_path):
    path = tmp_path / "netmon.pcapng"
    write_capture(path, USERAPPL, [([(IP, nrb_name(CART))], [holder_comment(IP, Span(0, None,
                                                                                      CART))])])

    assert read_map(path).lookup(IP, T0_NS) == CART


def test_a_node_address_restores_as_the_node(tmp_path):
    path = tmp_path / "netmon.pcapng"
    write_capture(path, USERAPPL, [([], [holder_comment("192.168.49.2", Span(0, None, NODE))])])

    assert read_map(path).lookup("192.168.49.2", T0_NS) == NODE


def test_a_reused_address_resolves_to_its_holder_at_each_time(tmp_path):
    path = tmp_path / "netmon.pcapng"
    write_capture(path, USERAPPL, [([], [holder_comment(IP, Span(0, 5 * S, CART)),
                                         holder_comment(IP, Span(8 * S, None, JOB))])])
    pods = read_map(path)

    assert [pods.lookup(IP, t * S) for t in (4, 6, 9)] == [CART, None, JOB]


def test_a_holding_written_again_with_its_end_is_closed_then(tmp_path):
    """The recording first writes a holding open, and again once the pod is gone."""
    path = tmp_path / "netmon.pcapng"
    write_capture(path, USERAPPL, [([(IP, nrb_name(CART))], [holder_comment(IP, Span(0, None,
                                                                                      CART))]),
                                   ([], [holder_comment(IP, Span(0, 5 * S, CART))])])
    pods = read_map(path)

    assert (pods.lookup(IP, 4 * S), pods.lookup(IP, 5 * S)) == (CART, None)


def test_a_foreign_file_with_the_same_comments_holds_no_pods(tmp_path):
    path = tmp_path / "foreign.pcapng"
    write_capture(path, "Dumpcap (Wireshark) 4.0.17",
                  [([(IP, "db.example")], [holder_comment(IP, Span(0, None, CART))])])

    assert read_map(path).lookup(IP, T0_NS) is None
