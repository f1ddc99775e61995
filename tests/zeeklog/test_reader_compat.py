"""The Zeek logs this project writes read back with independent Zeek log readers from PyPI:
zat (ZeekLogReader for TSV, JSONLogToDataFrame for JSON) and parsezeeklogs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import parsezeeklogs
import pytest
from zat.json_log_to_dataframe import JSONLogToDataFrame
from zat.zeek_log_reader import ZeekLogReader

from kubectl_netmon.zeeklog.enrich import EnrichStats, enrich_lines
from tests.zeeklog.logs import conn_row, pod_map, tsv_log

REPO = Path(__file__).resolve().parents[2]
SHARED_PCAP = "log4j-attack.pcap"
VICTIM, ATTACKER = "198.51.100.10", "203.0.113.217"
PODS = {"kind": "List", "items": [
    {"kind": "Pod", "metadata": {"namespace": "shop", "name": "victim-0"},
     "spec": {"nodeName": "node-a"},
     "status": {"phase": "Running", "podIP": VICTIM, "hostIP": "192.168.0.10"}}]}


def enrich_file(src, dst) -> None:
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.writelines(enrich_lines(f, pod_map(), EnrichStats()))


def zat_tsv(path) -> list[dict]:
    return list(ZeekLogReader(str(path)).readrows())


def zat_json(path) -> list[dict]:
    return JSONLogToDataFrame().create_dataframe(str(path), ts_index=False).to_dict("records")


def test_an_enriched_tsv_log_reads_back_with_zat(tmp_path):
    (tmp_path / "in.log").write_bytes(tsv_log([conn_row("10.0.0.5", "8.8.8.8")]))
    enrich_file(tmp_path / "in.log", tmp_path / "conn.log")
    [row] = zat_tsv(tmp_path / "conn.log")
    assert (row["id.orig_h"], row["orig_pod.ns"], row["orig_pod.name"], row["resp_pod.name"]) \
        == ("10.0.0.5", "shop", "web-1", "-")


def test_an_enriched_tsv_log_reads_back_with_parsezeeklogs(tmp_path):
    (tmp_path / "in.log").write_bytes(tsv_log([conn_row("10.0.0.5", "8.8.8.8")]))
    enrich_file(tmp_path / "in.log", tmp_path / "conn.log")
    [rec] = list(parsezeeklogs.ZeekLog(tmp_path / "conn.log"))
    assert (rec["orig_pod.node_ip"], rec["resp_pod.name"]) == ("192.168.0.10", None)


def test_an_enriched_json_log_reads_back_with_both_readers(tmp_path):
    line = {"ts": 1700000001.25, "uid": "C1", "id.orig_h": "10.0.0.5", "id.orig_p": 1,
            "id.resp_h": "10.0.1.7", "id.resp_p": 80, "proto": "tcp"}
    (tmp_path / "in.log").write_text(json.dumps(line) + "\n")
    enrich_file(tmp_path / "in.log", tmp_path / "conn.log")
    [z] = zat_json(tmp_path / "conn.log")
    [p] = list(parsezeeklogs.ZeekLog(tmp_path / "conn.log"))
    assert z["orig_pod.name"] == p["orig_pod.name"] == "web-1"
    assert z["resp_pod.node"] == p["resp_pod.node"] == "node-b"


def test_the_cli_keeps_gzip_and_parsezeeklogs_reads_the_result(tmp_path):
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "conn.log.gz"
    src.write_bytes(gzip.compress(tsv_log([conn_row("10.0.0.5", "8.8.8.8")])))
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps({"kind": "Pod", "metadata": {"namespace": "shop", "name": "w"},
                                "spec": {}, "status": {"podIP": "10.0.0.5"}}))
    subprocess.run([sys.executable, "-m", "kubectl_netmon", "enrich", "--pods-json", str(pods),
                    "-d", str(tmp_path / "out"), str(src)], cwd=REPO, check=True,
                   capture_output=True)
    [rec] = list(parsezeeklogs.ZeekLog(tmp_path / "out" / "conn.log.gz"))
    assert rec["orig_pod.name"] == "w"


@pytest.fixture(scope="module")
def zeek_dir(tmp_path_factory, request) -> tuple:
    """`analyze SHARED_PCAP --zeek-dir` with pod names from --pods-json, and without them then
    passed through `enrich --pods-json`: (the first run's logs, the enriched logs)."""
    shared = request.getfixturevalue("shared_pcaps")
    tmp = tmp_path_factory.mktemp("zeekdir")
    pods = tmp / "pods.json"
    pods.write_text(json.dumps(PODS))
    netmon = [sys.executable, "-m", "kubectl_netmon"]
    pcap = str(shared / SHARED_PCAP)
    for out, extra in (("named", ["--pods-json", str(pods)]), ("plain", [])):
        subprocess.run([*netmon, "analyze", pcap, "--zeek-dir", str(tmp / out), *extra],
                       cwd=REPO, check=True, capture_output=True)
    plain = sorted((tmp / "plain").glob("*.log"))
    assert not any(b"_pod." in p.read_bytes() for p in plain)
    subprocess.run([*netmon, "enrich", "--pods-json", str(pods), "-d", str(tmp / "enriched"),
                    *map(str, plain)], cwd=REPO, check=True, capture_output=True)
    return sorted((tmp / "named").glob("*.log")), sorted((tmp / "enriched").glob("*.log"))


def line_count(path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def test_zeek_dir_output_has_the_logs_the_attack_capture_makes(zeek_dir):
    written, _ = zeek_dir
    assert {p.name for p in written} >= {"conn.log", "http.log", "notice.log"}


@pytest.mark.parametrize("which", ["written", "enriched"])
def test_every_zeek_dir_log_reads_back_whole_with_parsezeeklogs(zeek_dir, which):
    for path in zeek_dir[which == "enriched"]:
        records = list(parsezeeklogs.ZeekLog(path))
        assert len(records) == line_count(path), path.name
        assert all("id.orig_h" in r or "src" in r for r in records), path.name


@pytest.mark.parametrize("which", ["written", "enriched"])
def test_every_zeek_dir_log_reads_back_whole_with_zat(zeek_dir, which):
    for path in zeek_dir[which == "enriched"]:
        assert len(zat_json(path)) == line_count(path), path.name


@pytest.mark.parametrize("log", ["conn.log", "http.log", "notice.log"])
def test_the_victim_pod_is_named_in_each_enriched_log_as_both_readers_see_it(zeek_dir, log):
    path = next(p for p in zeek_dir[1] if p.name == log)
    sides = ("orig_pod.name", "resp_pod.name")
    via_parsezeeklogs = {r.get(k) for r in parsezeeklogs.ZeekLog(path) for k in sides}
    via_zat = {r.get(k) for r in zat_json(path) for k in sides}
    assert "victim-0" in via_parsezeeklogs and "victim-0" in via_zat
