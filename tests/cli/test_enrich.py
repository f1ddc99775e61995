"""`kubectl-netmon enrich LOG...` end to end, as a user runs it, with a --pods-json snapshot."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.zeeklog.logs import T0, conn_row, tsv_log

REPO = Path(__file__).resolve().parents[2]
WEB_STARTED = "2023-11-14T22:13:25Z"  # T0 + 5 s


def pods_json(tmp_path: Path) -> Path:
    """web-1 (10.0.0.5) running; batch-1 (10.0.0.9) ran from T0+5 s to T0+8 s."""
    finished = {"name": "c", "state": {"terminated": {"finishedAt": "2023-11-14T22:13:28Z"}}}
    doc = {"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"namespace": "shop", "name": "web-1"},
         "spec": {"nodeName": "node-a"},
         "status": {"phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.0.10"}},
        {"kind": "Pod", "metadata": {"namespace": "jobs", "name": "batch-1"},
         "spec": {"nodeName": "node-b"},
         "status": {"phase": "Succeeded", "podIP": "10.0.0.9", "startTime": WEB_STARTED,
                    "containerStatuses": [finished]}}]}
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(doc))
    return path


def enrich(tmp_path: Path, *args: object, stdin: bytes | None = None
           ) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "kubectl_netmon", "enrich", "--pods-json",
                           str(pods_json(tmp_path)), *map(str, args)], cwd=REPO, input=stdin,
                          capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def json_line(orig: str, second: float) -> bytes:
    return json.dumps({"ts": T0 + second, "uid": "C1", "id.orig_h": orig, "id.orig_p": 1,
                       "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp"}).encode() + b"\n"


def test_one_log_is_written_enriched_to_stdout_in_its_own_format(tmp_path):
    (tmp_path / "conn.log").write_bytes(tsv_log([conn_row("10.0.0.5", "8.8.8.8")]))
    proc = enrich(tmp_path, tmp_path / "conn.log")
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"#separator \\x09\n")
    assert b"\tshop\tweb-1\tnode-a\t192.168.0.10\t-\t-\t-\t-\n" in proc.stdout


def test_stdin_is_read_when_the_log_is_a_dash(tmp_path):
    proc = enrich(tmp_path, "-", stdin=json_line("10.0.0.5", 1))
    assert json.loads(proc.stdout)["orig_pod.name"] == "web-1"


def test_several_logs_go_into_the_output_dir_under_their_own_names_gzip_kept(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "conn.log.gz").write_bytes(
        gzip.compress(tsv_log([conn_row("10.0.0.5", "8.8.8.8")])))
    (tmp_path / "in" / "dns.log").write_bytes(json_line("10.0.0.5", 1))
    proc = enrich(tmp_path, "-d", tmp_path / "out", tmp_path / "in" / "conn.log.gz",
                  tmp_path / "in" / "dns.log")
    assert proc.returncode == 0
    tsv = gzip.decompress((tmp_path / "out" / "conn.log.gz").read_bytes())
    assert b"\tweb-1\t" in tsv
    assert json.loads((tmp_path / "out" / "dns.log").read_bytes())["orig_pod.ns"] == "shop"


def test_the_summary_on_stderr_counts_records_and_those_too_early_to_attribute(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(json_line("10.0.0.9", 1) + json_line("10.0.0.9", 6) + json_line("1.1.1.1", 6))
    proc = enrich(tmp_path, log)
    names = [json.loads(line).get("orig_pod.name") for line in proc.stdout.splitlines()]
    assert names == [None, "batch-1", None]
    assert proc.stderr.decode().splitlines() == [
        "enrich: 3 records, 1 with pod context",
        "enrich: 1 records left without pod context for an address whose known history starts "
        "after the record's time (not guessed)"]


@pytest.mark.parametrize(("args", "message"), [
    (["a.log", "b.log"], "error: several logs need --output-dir DIR (stdout takes one log)"),
    (["missing.log"], "error: missing.log: cannot read it (No such file or directory)"),
    (["--context", "x", "a.log"], "error: --pods-json and --kubeconfig/--context exclude each "
                                  "other: pods come from the snapshot or from the cluster"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.log").write_bytes(json_line("10.0.0.5", 1))
    proc = subprocess.run([sys.executable, "-m", "kubectl_netmon", "enrich", "--pods-json",
                           str(pods_json(tmp_path)), *args], capture_output=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert (proc.returncode, proc.stderr.decode().splitlines()) == (2, [message])


def test_a_file_that_is_not_a_zeek_log_is_refused_naming_it_and_nothing_is_written(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    proc = enrich(tmp_path, "-d", tmp_path / "out", tmp_path / "notes.txt")
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith(f"error: {tmp_path / 'notes.txt'}: not a Zeek log")
    assert list((tmp_path / "out").iterdir()) == []


def test_the_output_dir_may_not_be_where_the_input_is(tmp_path):
    (tmp_path / "conn.log").write_bytes(json_line("10.0.0.5", 1))
    proc = enrich(tmp_path, "-d", tmp_path, tmp_path / "conn.log")
    assert proc.returncode == 2
    assert (tmp_path / "conn.log").read_bytes() == json_line("10.0.0.5", 1)
