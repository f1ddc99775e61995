"""The CLI's edge (cli/main.py): how each way of ending becomes an exit code and at most one
line on stderr, as a user's shell sees it."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_netmon import pipeline
from kubectl_netmon.cli.main import main
from tests.cli.captures import udp_datagrams

REPO = Path(__file__).resolve().parents[2]
NETMON = [sys.executable, "-m", "kubectl_netmon"]
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(platform.machine())
WAIT_S = 120.0  # a guard for a slow machine, not a timing check


def _blocked_reading_stdin(pid: int) -> None:
    """Wait until the process sits in read(0, ...): started, its handlers set, no data yet."""
    if READ_SYSCALL is None:
        pytest.skip(f"read(2)'s number on {platform.machine()} is not known here")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        call = Path(f"/proc/{pid}/syscall").read_text().split()
        if call[:2] == [str(READ_SYSCALL), "0x0"]:
            return
        time.sleep(0.05)
    raise AssertionError("analyze never waited on stdin")


def test_ctrl_c_before_any_data_arrives_on_stdin_exits_130():
    """Ctrl-C reaches the whole pipeline (`producer | kubectl netmon analyze -`): the producer
    dies too, and its stdin ends, but the user interrupted, the capture was not empty."""
    producer = subprocess.Popen(["sleep", "300"], stdout=subprocess.PIPE, preexec_fn=os.setpgrp)
    analyze = subprocess.Popen([*NETMON, "analyze", "-"], cwd=REPO, stdin=producer.stdout,
                               stderr=subprocess.PIPE,
                               preexec_fn=lambda: os.setpgid(0, producer.pid))
    producer.stdout.close()
    try:
        _blocked_reading_stdin(analyze.pid)
        os.killpg(producer.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        err = analyze.communicate(timeout=WAIT_S)[1].decode()
    finally:
        for proc in (producer, analyze):
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    assert analyze.returncode == 130
    assert "empty" not in err and "Traceback" not in err


def test_a_reader_that_stops_reading_ends_analyze_quietly_with_exit_0(tmp_path):
    """`kubectl netmon analyze -o json F | head -c10`: like cat, no complaint and no failure."""
    # Two datagrams 200 s apart: the first flow's record comes out when the second is read;
    # the second flow's only at the end of stdin, after the reader went away.
    data = udp_datagrams(tmp_path / "two.pcap", [0, 200]).read_bytes()
    proc = subprocess.Popen([*NETMON, "analyze", "-", "-o", "json"], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(data)
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id.orig_p"] == 40000  # the first flow
    proc.stdout.close()  # `head` has what it wanted
    proc.stdin.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=WAIT_S)

    assert (proc.returncode, err) == (0, "")


@pytest.mark.parametrize("output", [["-o", "json"], []], ids=["json", "table"])
def test_an_output_that_cannot_be_written_fails_the_run_with_one_line(tmp_path, output):
    """`kubectl netmon analyze F > /dev/full`: the full disk is said, exit 1, no internal error
    (json: a record per flow, more than a buffer, written on the way; the table: at exit)."""
    capture = udp_datagrams(tmp_path / "flows.pcap", [200 * i for i in range(40)])
    with open("/dev/full", "wb") as full:
        done = subprocess.run([*NETMON, "analyze", str(capture), *output], cwd=REPO,
                              stdout=full, stderr=subprocess.PIPE, timeout=WAIT_S)

    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[-1] == (
        "error: cannot write the output (No space left on device); what was written before "
        "the failure is in it")


@pytest.mark.parametrize("args, message", [
    (["-o", "bogus", "a.pcap"], "error: Invalid value for '-o' / '--output': 'bogus' is not "
                                "one of 'table', 'json'; see 'kubectl-netmon analyze --help'"),
    (["--bogus", "a.pcap"], "error: No such option '--bogus'; see 'kubectl-netmon analyze --help'"),
    ([], "error: Missing argument 'FILE'; see 'kubectl-netmon analyze --help'"),
])
def test_a_bad_flag_is_one_error_line_that_points_at_help_and_exit_2(args, message):
    proc = subprocess.run([*NETMON, "analyze", *args], cwd=REPO, capture_output=True,
                          timeout=WAIT_S)
    assert (proc.returncode, proc.stderr.decode().splitlines()) == (2, [message])


def _a_bug(*args: object, **kwargs: object) -> None:
    raise ValueError("state \x1b[31m lost")


def test_an_unexpected_error_is_one_internal_error_line_and_exit_70(monkeypatch, capsys,
                                                                    shared_pcaps):
    monkeypatch.setattr(pipeline, "run", _a_bug)
    monkeypatch.delenv("NETMON_DEBUG", raising=False)
    with pytest.raises(SystemExit) as ended:
        main(["analyze", str(shared_pcaps / "log4j-attack.pcap")])

    assert ended.value.code == 70
    assert capsys.readouterr().err == (
        "internal error: ValueError: state \\x1b[31m lost; please report it (run with "
        "NETMON_DEBUG=1 for the traceback)\n")


def test_netmon_debug_lets_the_traceback_of_an_unexpected_error_through(monkeypatch,
                                                                        shared_pcaps):
    monkeypatch.setattr(pipeline, "run", _a_bug)
    monkeypatch.setenv("NETMON_DEBUG", "1")
    with pytest.raises(ValueError, match="state"):
        main(["analyze", str(shared_pcaps / "log4j-attack.pcap")])
