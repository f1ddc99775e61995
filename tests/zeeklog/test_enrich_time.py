"""Records are matched to whoever held an address at the record's time; earlier ones are not
guessed."""

from __future__ import annotations

import json

from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.zeeklog.enrich import EnrichStats, enrich_lines
from tests.zeeklog.logs import T0, conn_row, parse_tsv, tsv_log

OLD = PodInfo(ns="jobs", name="batch-1", node="node-a")
NEW = PodInfo(ns="shop", name="web-2", node="node-b")
S = 10**9


def reused_ip() -> PodMap:
    """10.0.0.9: batch-1 from T0+10 to T0+20, then web-2 from T0+30 on."""
    pods = PodMap()
    pods.add("10.0.0.9", OLD, since_ns=(T0 + 10) * S, until_ns=(T0 + 20) * S)
    pods.add("10.0.0.9", NEW, since_ns=(T0 + 30) * S)
    return pods


def names_at(*seconds: int) -> tuple[list[str], EnrichStats]:
    stats = EnrichStats()
    data = tsv_log([conn_row("10.0.0.9", "8.8.8.8", second=s) for s in seconds])
    out = b"".join(enrich_lines(data.splitlines(keepends=True), reused_ip(), stats))
    return [r["orig_pod.name"] for r in parse_tsv(out)[1]], stats


def test_a_reused_address_names_the_pod_that_held_it_at_the_record_time():
    names, _ = names_at(15, 35)
    assert names == ["batch-1", "web-2"]


def test_a_record_older_than_anything_known_about_its_address_is_left_unenriched():
    names, stats = names_at(5)
    assert names == ["-"]
    assert (stats.early, stats.enriched) == (1, 0)


def test_a_record_between_two_holders_is_unenriched_but_not_counted_as_too_early():
    names, stats = names_at(25)
    assert names == ["-"]
    assert stats.early == 0


def test_json_records_follow_the_same_rule():
    line = json.dumps({"ts": T0 + 5.0, "id.orig_h": "10.0.0.9", "id.resp_h": "8.8.8.8"}).encode()
    stats = EnrichStats()
    [out] = list(enrich_lines([line + b"\n"], reused_ip(), stats))
    assert "orig_pod.name" not in json.loads(out)
    assert stats.early == 1
