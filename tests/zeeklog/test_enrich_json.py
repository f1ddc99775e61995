"""Enriching Zeek JSON logs: pod fields spliced in, the rest of each line byte-identical."""

from __future__ import annotations

import json

from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.zeeklog.enrich import EnrichStats, enrich_lines
from tests.zeeklog.logs import T0, pod_map


def record(orig: str = "10.0.0.5", resp: str = "10.0.1.7", ts: object = T0 + 1.25,
           **extra: object) -> bytes:
    rec = {"ts": ts, "uid": "CAbc", "id.orig_h": orig, "id.orig_p": 40000, "id.resp_h": resp,
           "id.resp_p": 80, "proto": "tcp", **extra}
    return json.dumps(rec, separators=(",", ":")).encode() + b"\n"


def enrich(*lines: bytes, pods: PodMap | None = None) -> tuple[list[bytes], EnrichStats]:
    stats = EnrichStats()
    return list(enrich_lines(list(lines), pods or pod_map(), stats)), stats


def test_pod_fields_are_added_for_both_end_points():
    [out], _ = enrich(record())
    rec = json.loads(out)
    assert {k: v for k, v in rec.items() if "_pod." in k} == {
        "orig_pod.ns": "shop", "orig_pod.name": "web-1", "orig_pod.node": "node-a",
        "orig_pod.node_ip": "192.168.0.10", "resp_pod.ns": "shop", "resp_pod.name": "db-0",
        "resp_pod.node": "node-b", "resp_pod.node_ip": "192.168.0.11"}


def test_the_original_text_of_the_record_is_kept_byte_for_byte():
    line = record(service="http", duration=0.000120)
    [out], _ = enrich(line)
    assert out.startswith(line[:-2] + b",") and out.endswith(b"}\n")


def test_an_address_no_pod_held_gets_no_fields_as_zeek_leaves_unset_fields_out():
    [out], _ = enrich(record(orig="8.8.8.8"))
    assert not any(k.startswith("orig_pod.") for k in json.loads(out))


def test_iso_8601_times_are_read_too():
    pods = PodMap()
    pods.add("10.0.0.5", PodInfo(ns="shop", name="web-1"), since_ns=(T0 + 10) * 10**9)
    [before, after], _ = enrich(record(ts="2023-11-14T22:13:29.999999Z"),
                                record(ts="2023-11-14T22:13:30.000001Z"), pods=pods)
    assert "orig_pod.name" not in json.loads(before)
    assert json.loads(after)["orig_pod.name"] == "web-1"


def test_millisecond_times_are_read_too():
    pods = PodMap()
    pods.add("10.0.0.5", PodInfo(ns="shop", name="web-1"), since_ns=(T0 + 10) * 10**9)
    [before, after], _ = enrich(record(ts=(T0 + 9) * 1000), record(ts=(T0 + 11) * 1000),
                                pods=pods)
    assert "orig_pod.name" not in json.loads(before)
    assert json.loads(after)["orig_pod.name"] == "web-1"


def test_text_that_looks_like_an_address_key_inside_a_value_does_not_fool_the_reader():
    decoy = '"id.orig_h":"10.0.1.7","ts":1'
    [out], _ = enrich(record(orig="8.8.8.8", uri=decoy))
    rec = json.loads(out)
    assert rec["uri"] == decoy
    assert "orig_pod.name" not in rec and rec["resp_pod.name"] == "db-0"


def test_a_record_enriched_before_has_its_pod_fields_replaced_not_repeated():
    old = record(**{"orig_pod.ns": "gone", "orig_pod.name": "old-pod"})
    [out], _ = enrich(old)
    assert out.count(b'"orig_pod.name"') == 1
    assert json.loads(out)["orig_pod.name"] == "web-1"


def test_lines_that_are_not_records_with_addresses_pass_through_and_are_counted():
    junk = [b'{"ts":1700000001.0,"msg":"no addresses"}\n', b'{"ts": broken\n', b"[1,2]\n"]
    out, stats = enrich(*junk)
    assert out == junk
    assert (stats.records, stats.unreadable, stats.enriched) == (3, 3, 0)


def test_blank_lines_are_kept_and_not_counted_as_records():
    out, stats = enrich(b"\n", record())
    assert out[0] == b"\n" and stats.records == 1


def test_a_last_line_without_a_newline_is_still_enriched():
    [out], _ = enrich(record().rstrip(b"\n"))
    assert json.loads(out)["orig_pod.name"] == "web-1"
