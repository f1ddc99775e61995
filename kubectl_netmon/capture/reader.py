"""Open a capture file or stream: sniff its magic and hand back the matching streaming reader.

`open_capture("-")` reads stdin; a gzip-compressed capture is read through (as Wireshark does).
Failures that leave nothing to read raise CaptureError with one line saying what was wrong and
what to do; damage later in the stream is `reader.damage`.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from typing import BinaryIO

from kubectl_netmon.capture import pcap, pcapng
from kubectl_netmon.capture.source import CaptureReader, Chunks, Damage, Interface
from kubectl_netmon.errors import CaptureError
from kubectl_netmon.output.escape import escape

__all__ = ["CaptureReader", "Damage", "Interface", "open_capture", "open_stream"]

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PCAP_MAGICS = {m.to_bytes(4, "big") for m in pcap.MAGICS}
GZIP_MAGIC = b"\x1f\x8b"
# other compressors Wireshark may read but we do not: how to hand their content to us
COMPRESSED = {b"\x28\xb5\x2f\xfd": ("zstd", "zstd -dc"), b"\x04\x22\x4d\x18": ("lz4", "lz4 -dc"),
              b"\xfd7zX": ("xz", "xz -dc"), b"BZh": ("bzip2", "bzip2 -dc")}
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
        return open_stream(Gunzipped(head + chunks.unread(), fileobj), name, owns_file)
    for prefix, (what, command) in COMPRESSED.items():
        if magic.startswith(prefix):
            raise CaptureError(f"{escape(name)}: {what}-compressed; stream it decompressed: "
                               f"`{command} FILE | kubectl netmon analyze -`")
    if not head:
        raise CaptureError(f"{escape(name)}: empty, no capture in it; check that the capture "
                           "command ran and wrote to this file")
    raise CaptureError(f"{escape(name)}: not a pcap or pcapng capture (first bytes "
                       f"{head[:8].hex(' ')}); give a file written by tcpdump, dumpcap or "
                       "Wireshark, or convert it with `editcap -F pcapng IN OUT`")


class Gunzipped:
    """The capture inside a gzip stream whose first bytes were already read (`head`). A damaged
    or cut-off compressed stream ends like a failed read: the packets before it are kept."""

    __slots__ = ("_gz", "_raw")

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._raw = raw
        self._gz = gzip.GzipFile(fileobj=_Prefixed(head, raw), mode="rb")

    def read1(self, size: int) -> bytes:
        try:
            return self._gz.read1(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise OSError(0, f"gzip stream cut off or damaged: {e}") from None

    def close(self) -> None:
        self._gz.close()
        self._raw.close()


class _Prefixed:
    """A stream's bytes with those already taken from it put back in front."""

    __slots__ = ("_head", "_raw")

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head, self._raw = head, raw

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._raw.read(size)
        if size < 0:
            out, self._head = self._head + self._raw.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        return out
