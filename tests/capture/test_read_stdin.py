"""`open_capture("-")` reads a capture streamed through a pipe into the process's stdin."""

from __future__ import annotations

import subprocess
import sys

from tests.capture.captures_gen import epb, ether_frames, idb, pcap_bytes, shb
from tests.capture.readers_oracle import REPO

COUNT_FROM_STDIN = """
from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.reader import open_capture
reader = open_capture("-")
print(sum(1 for _ in packets(reader, DecodeStats())), reader.name, reader.damage)
"""


def run_with_stdin(data: bytes) -> str:
    result = subprocess.run([sys.executable, "-c", COUNT_FROM_STDIN], input=data, cwd=REPO,
                            capture_output=True, check=True)
    return result.stdout.decode().strip()


def test_a_pcap_piped_to_stdin_is_read_to_its_end():
    assert run_with_stdin(pcap_bytes(ether_frames())) == "8 stdin None"


def test_a_pcapng_piped_to_stdin_is_read_to_its_end():
    frames = ether_frames()
    data = shb() + idb(1) + b"".join(epb(0, i, f) for i, f in enumerate(frames))
    assert run_with_stdin(data) == "8 stdin None"


def test_a_pipe_cut_mid_record_reports_the_damage_on_stdin():
    data = pcap_bytes(ether_frames())  # 8 IP frames, then an ARP frame of 42 bytes
    assert run_with_stdin(data[:-5]) == (
        f"8 stdin stdin: capture truncated at byte {len(data) - 58} after 8 packets "
        "(record needs 42 bytes, 37 present)")
