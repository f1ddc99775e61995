"""keep_freed_memory: buffers freed during a live capture are reused instead of mapped afresh
(each fresh page costs a fault). Measured on a capture read as a live stream is read, in a
child process each: the setting lasts for the process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.capture.captures_gen import synthetic_pcap

READ = """
import random, resource, sys
from kubectl_netmon.capture.chunkfile import ChunkFile
from kubectl_netmon.capture.reader import open_stream
from kubectl_netmon.heap import keep_freed_memory
if sys.argv[2] == "keep" and not keep_freed_memory():
    sys.exit(3)

def chunks():
    # as the exec stream gives them: what the socket held at once, joined (a varying number
    # of 16 KiB TLS records), so each chunk is a new buffer of another size
    sizes = random.Random(1)
    with open(sys.argv[1], "rb") as f:
        while data := b"".join(f.read(1 << 14) for _ in range(sizes.randint(1, 64))):
            yield data

before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for batch in open_stream(ChunkFile(chunks()), "stream").batches():
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.fixture(scope="module")
def bulk_capture(tmp_path_factory):
    """30 MB of full-size TCP segments."""
    return synthetic_pcap(tmp_path_factory.mktemp("heap") / "bulk.pcap", 20_000, payload=1460)


def page_faults(path, mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", READ, str(path), mode], capture_output=True,
                          text=True)
    if done.returncode == 3:
        pytest.skip("this libc has no glibc mallopt (nothing to tune)")
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_freed_buffers_are_reused_instead_of_mapped_again(bulk_capture):
    assert page_faults(bulk_capture, "keep") * 5 < page_faults(bulk_capture, "default")
