"""Open a capture file or stream: sniff its magic and hand back the matching streaming reader.

`open_capture("-")` reads stdin. Failures that leave nothing to read raise CaptureError with one
line saying what was wrong and what to do; damage later in the stream is `reader.damage`.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from kubectl_netmon.capture import pcap, pcapng
from kubectl_netmon.capture.source import CaptureReader, Chunks, Damage, Interface
from kubectl_netmon.errors import CaptureError
from kubectl_netmon.output.escape import escape

__all__ = ["CaptureReader", "Damage", "Interface", "open_capture", "open_stream"]

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PCAP_MAGICS = {m.to_bytes(4, "big") for m in pcap.MAGICS}
GZIP_MAGIC = b"\x1f\x8b"
STDIN_NAME = "stdin"


def open_capture(path: str) -> CaptureReader:
    """Open a pcap or pcapng file by path ("-" for stdin) for streaming reads."""
    if path == "-":
        return open_stream(sys.stdin.buffer, STDIN_NAME, owns_file=False)
    try:
        fileobj = open(path, "rb")  # noqa: SIM115 - the reader owns and closes it
    except FileNotFoundError:
        raise CaptureError(f"{escape(path)}: no such file; check the path") from None
    except IsADirectoryError:
        raise CaptureError(f"{escape(path)}: is a directory; give a pcap or pcapng file") from None
    except OSError as e:
        raise CaptureError(f"{escape(path)}: cannot open ({e.strerror}); check its permissions") \
            from None
    try:
        return open_stream(fileobj, path)
    except BaseException:
        fileobj.close()
        raise


def open_stream(fileobj: BinaryIO, name: str, owns_file: bool = True) -> CaptureReader:
    """Sniff an open binary stream (file, pipe, exec stream) and return its reader."""
    chunks = Chunks(fileobj)
    head, _ = chunks.refill(b"", 0, pcap.HEADER_LEN)  # from its start: a fresh stream
    if chunks.error and not head:
        raise CaptureError(f"{escape(name)}: cannot read ({chunks.error})")
    magic = head[:4]
    if magic == PCAPNG_MAGIC:
        return pcapng.PcapngReader(name, fileobj, head, owns_file, chunks)
    if magic in PCAP_MAGICS:
        return pcap.PcapReader(name, fileobj, head, owns_file, chunks)
    if magic.startswith(GZIP_MAGIC):
        raise CaptureError(f"{escape(name)}: gzip-compressed; decompress it first, or stream it: "
                           "`gunzip -c FILE | kubectl netmon analyze -`")
    if not head:
        raise CaptureError(f"{escape(name)}: empty, no capture in it; check that the capture "
                           "command ran and wrote to this file")
    raise CaptureError(f"{escape(name)}: not a pcap or pcapng capture (first bytes "
                       f"{head[:8].hex(' ')}); give a file written by tcpdump, dumpcap or "
                       "Wireshark, or convert it with `editcap -F pcapng IN OUT`")
