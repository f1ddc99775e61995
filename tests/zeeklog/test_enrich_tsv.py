"""Enriching Zeek ASCII (TSV) logs: columns appended, headers updated, Zeek's escaping kept."""

from __future__ import annotations

from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.zeeklog.enrich import EnrichStats, enrich_lines
from tests.zeeklog.logs import CONN_TYPES, conn_row, parse_tsv, pod_map, tsv_log

POD_FIELDS = ["orig_pod.ns", "orig_pod.name", "orig_pod.node", "orig_pod.node_ip",
              "resp_pod.ns", "resp_pod.name", "resp_pod.node", "resp_pod.node_ip"]


def enrich(data: bytes, pods: PodMap | None = None) -> tuple[bytes, EnrichStats]:
    stats = EnrichStats()
    out = b"".join(enrich_lines(data.splitlines(keepends=True), pods or pod_map(), stats))
    return out, stats


def test_both_end_points_get_namespace_name_node_and_node_ip_columns():
    out, _ = enrich(tsv_log([conn_row("10.0.0.5", "10.0.1.7")]))
    _, [rec] = parse_tsv(out)
    assert [rec[f] for f in POD_FIELDS] == ["shop", "web-1", "node-a", "192.168.0.10",
                                            "shop", "db-0", "node-b", "192.168.0.11"]


def test_fields_and_types_headers_grow_by_the_pod_columns():
    out, _ = enrich(tsv_log([conn_row("10.0.0.5", "10.0.1.7")]))
    header, _ = parse_tsv(out)
    assert header["#fields"][-8:] == POD_FIELDS
    assert header["#types"] == CONN_TYPES + ["string", "string", "string", "addr"] * 2


def test_the_other_header_lines_and_the_close_line_are_kept_as_they_were():
    data = tsv_log([conn_row("10.0.0.5", "10.0.1.7")])
    out, _ = enrich(data)
    kept = [line for line in data.splitlines() if not line.startswith((b"#fields", b"#types"))
            and line.startswith(b"#")]
    assert [line for line in out.splitlines() if line in kept] == kept


def test_the_original_columns_of_a_record_are_untouched():
    row = conn_row("10.0.0.5", "8.8.8.8")
    out, _ = enrich(tsv_log([row]))
    assert out.splitlines()[8].split(b"\t")[:len(row)] == [c.encode() for c in row]


def test_an_address_no_pod_held_gets_unset_cells():
    out, stats = enrich(tsv_log([conn_row("8.8.8.8", "10.0.1.7")]))
    _, [rec] = parse_tsv(out)
    assert [rec[f] for f in POD_FIELDS[:4]] == ["-"] * 4
    assert rec["resp_pod.name"] == "db-0"
    assert (stats.records, stats.enriched) == (1, 1)


def test_a_node_address_names_the_node_and_leaves_the_namespace_unset():
    out, _ = enrich(tsv_log([conn_row("192.168.0.10", "8.8.8.8")]))
    _, [rec] = parse_tsv(out)
    assert [rec[f] for f in POD_FIELDS[:4]] == ["-", "node-a", "node-a", "192.168.0.10"]


def test_pod_text_with_the_separator_or_control_bytes_cannot_break_the_columns():
    pods = PodMap()
    pods.add("10.0.0.5", PodInfo(ns="a\tb", name="x\x1b[31m", node="-"))
    out, _ = enrich(tsv_log([conn_row("10.0.0.5", "8.8.8.8")]), pods)
    line = out.splitlines()[8]
    assert line.count(b"\t") == len(CONN_TYPES) - 1 + 8
    assert all(0x20 <= b < 0x7F or b == 0x09 for b in line)
    _, [rec] = parse_tsv(out)
    assert rec["orig_pod.node"] == "\\x2d"  # Zeek's way to write a value equal to unset "-"


def test_a_log_enriched_twice_has_each_pod_column_once_with_the_new_values():
    once, _ = enrich(tsv_log([conn_row("10.0.0.5", "10.0.1.7")]))
    moved = PodMap()
    moved.add("10.0.0.5", PodInfo(ns="other", name="web-9"))
    twice, _ = enrich(once, moved)
    header, [rec] = parse_tsv(twice)
    assert header["#fields"].count("orig_pod.name") == 1
    assert len(header["#types"]) == len(header["#fields"])
    assert (rec["orig_pod.ns"], rec["orig_pod.name"], rec["resp_pod.name"]) == (
        "other", "web-9", "-")


def test_any_log_with_id_orig_h_and_id_resp_h_works_here_a_dns_log():
    fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "query"]
    types = ["time", "string", "addr", "port", "addr", "port", "string"]
    data = tsv_log([["1700000001.5", "CDns", "10.0.0.5", "5353", "10.0.1.7", "53", "db.shop"]],
                   fields, types, path="dns")
    out, _ = enrich(data)
    _, [rec] = parse_tsv(out)
    assert (rec["query"], rec["orig_pod.name"], rec["resp_pod.name"]) == ("db.shop", "web-1",
                                                                         "db-0")


def test_a_log_without_address_fields_passes_through_and_its_records_are_counted():
    data = tsv_log([["1700000001.5", "x"]], ["ts", "msg"], ["time", "string"], path="weird")
    out, stats = enrich(data)
    assert out == data
    assert (stats.records, stats.unreadable) == (1, 1)


def test_a_record_with_an_unreadable_time_is_passed_through_and_counted():
    row = conn_row("10.0.0.5", "10.0.1.7")
    row[0] = "yesterday"
    out, stats = enrich(tsv_log([row]))
    assert out.splitlines()[8] == "\t".join(row).encode()
    assert stats.unreadable == 1


def test_ipv6_addresses_are_matched_whatever_their_spelling():
    pods = PodMap()
    pods.add("fd00::5", PodInfo(ns="v6", name="web"))
    out, _ = enrich(tsv_log([conn_row("fd00:0:0::5", "8.8.8.8")]), pods)
    _, [rec] = parse_tsv(out)
    assert rec["orig_pod.name"] == "web"
