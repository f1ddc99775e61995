"""The exec stream's channel readers on raw server bytes: frames built here from RFC 6455 section
5.2 and the channel.k8s.io prefix, fed in every way a socket may cut them. Each behaviour holds
for ChannelReader.feed given the reads, and for both readers that take the reads themselves
(channels.SocketFrames over a socket, the compiled FrameReader over TLS)."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_netmon.cluster import channels
from kubectl_netmon.cluster.channels import ChannelReader, FrameError, SocketFrames

BINARY, CONT, CLOSE, PING, PONG = 0x2, 0x0, 0x8, 0x9, 0xA
ALL_BYTES = bytes(range(256))


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"") -> bytes:
    """One server frame: FIN/opcode, the 7/16/64-bit length, an optional mask, the payload."""
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    masked = 0x80 if mask else 0
    if n < 126:
        head = bytes((first, masked | n))
    elif n < 65536:
        head = bytes((first, masked | 126)) + struct.pack("!H", n)
    else:
        head = bytes((first, masked | 127)) + struct.pack("!Q", n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload
    return head + mask + body


def message(channel: int, payload: bytes) -> bytes:
    return frame(BINARY, bytes((channel,)) + payload)


class Arrivals:
    """The server's bytes as a non-blocking connection hands them over: a read takes what it
    asks of the piece that arrived last; once that is used up, the next read finds nothing
    (SSLWantReadError) and the next piece arrives. After the last piece: nothing more, or the
    end of the connection once `ended` is set."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.at = 0  # in pieces[0]
        self.waiting = False  # a read found nothing since the last piece was used up
        self.ended = False

    def read(self, n: int, buf) -> int:
        """_ssl._SSLSocket.read(n, buffer)"""
        if self.ended and not self.pieces:
            return 0
        if not self.pieces or self.waiting:
            self.waiting = False
            raise ssl.SSLWantReadError("nothing yet")
        piece = self.pieces[0]
        take = min(n, len(piece) - self.at)
        buf[:take] = piece[self.at:self.at + take]
        self.at += take
        if self.at == len(piece):
            self.pieces.pop(0)
            self.at, self.waiting = 0, True
        return take

    def recv_into(self, buf) -> int:
        return self.read(len(buf), buf)


class Feed:
    """A reader with its stderr and pongs recorded; `run` gives it the pieces as reads, returns
    all stdout. how: "feed" (ChannelReader.feed), "python" or "compiled" (the readers that
    read by themselves)."""

    LIMIT = 1 << 20

    def __init__(self, how: str = "feed") -> None:
        self.stderr, self.pongs = bytearray(), []
        self.reader = ChannelReader(self.stderr.extend, self.pongs.append)
        self.how, self.arrivals = how, Arrivals()
        if how == "python":
            self.frames = SocketFrames(self.arrivals.recv_into, self.reader)
        elif how == "compiled":
            self.frames = channels._wsframes.FrameReader(self.arrivals.read, self.reader.frame,
                                                         FrameError)

    def run(self, *pieces: bytes) -> bytes:
        out: list = []
        if self.how == "feed":
            for p in pieces:
                self.reader.feed(p, out)
            return b"".join(out)
        self.arrivals.pieces += [bytes(p) for p in pieces if len(p)]
        while not (self.frames.closed or self.frames.eof):
            try:
                self.frames.fill(self.LIMIT)
            except ssl.SSLWantReadError:
                if not self.arrivals.pieces:
                    break
            finally:
                out.append(self.frames.take())
        return b"".join(out)


def _feeds(request):
    if request.param == "compiled" and channels._wsframes is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    return lambda: Feed(request.param)


@pytest.fixture(params=["feed", "python", "compiled"])
def new_feed(request):
    """Makes Feeds of one kind; each test runs with all three."""
    return _feeds(request)


@pytest.fixture(params=["python", "compiled"])
def new_reading_feed(request):
    """Makes Feeds whose reader reads by itself (fill, take); each test runs with both."""
    return _feeds(request)


# A session as a server sends it: the empty opening frame, output on both channels, a status.
STATUS = json.dumps({"metadata": {}, "status": "Success"}).encode()
SESSION = (message(1, b"") + message(1, ALL_BYTES) + message(2, b"warning\n")
           + message(1, b"\r\n\x00tail") + message(3, STATUS) + frame(CLOSE, b"\x03\xe8"))
STDOUT = ALL_BYTES + b"\r\n\x00tail"


def test_stdout_arrives_whole_and_in_order_when_read_at_once(new_feed):
    feed = new_feed()
    assert feed.run(SESSION) == STDOUT
    assert bytes(feed.stderr) == b"warning\n"


def test_stdout_arrives_whole_and_in_order_wherever_a_read_ends(new_feed):
    for cut in range(1, len(SESSION)):
        feed = new_feed()
        got = (feed.run(SESSION[:cut], SESSION[cut:]), bytes(feed.stderr), feed.reader.closed)
        assert got == (STDOUT, b"warning\n", True), f"reads cut at byte {cut}"


def test_stdout_arrives_whole_when_every_read_is_one_byte(new_feed):
    feed = new_feed()
    assert feed.run(*(SESSION[i:i + 1] for i in range(len(SESSION)))) == STDOUT


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 200_000])
def test_every_length_encoding_is_read(size, new_feed):
    payload = ALL_BYTES * (size // 256 + 1)
    assert new_feed().run(message(1, payload[:size])) == payload[:size]


def test_one_read_of_many_frames_gives_all_their_stdout_in_order():
    reader = ChannelReader(None, lambda _: None)
    out: list = []
    assert reader.feed(message(1, b"ab") + message(1, b"cd") + message(1, b"ef"), out) == 6
    assert b"".join(out) == b"abcdef"


def test_a_fragmented_message_keeps_the_channel_of_its_first_frame(new_feed):
    data = (frame(BINARY, b"\x02err", fin=False) + frame(CONT, b"or\n")
            + frame(BINARY, b"\x01out", fin=False) + frame(CONT, b"", fin=False)
            + frame(CONT, b"put"))
    feed = new_feed()
    assert feed.run(data) == b"output"
    assert bytes(feed.stderr) == b"error\n"


def test_a_channel_byte_alone_in_the_first_fragment_names_the_channel_of_the_rest(new_feed):
    assert new_feed().run(frame(BINARY, b"\x01", fin=False) + frame(CONT, b"data")) == b"data"


def test_the_status_on_channel_3_is_kept_once_its_message_is_whole(new_feed):
    feed = new_feed()
    feed.run(frame(BINARY, b"\x03" + STATUS[:10], fin=False))
    assert feed.reader.status is None
    feed.run(frame(CONT, STATUS[10:]))
    assert feed.reader.status == STATUS


def test_a_ping_is_answered_with_its_payload_even_between_fragments(new_feed):
    feed = new_feed()
    out = feed.run(frame(BINARY, b"\x01ab", fin=False) + frame(PING, b"beat")
                   + frame(CONT, b"cd"))
    assert (out, feed.pongs) == (b"abcd", [b"beat"])


def test_a_ping_between_fragments_never_becomes_stdout_wherever_reads_end(new_feed):
    data = frame(BINARY, b"\x01ab", fin=False) + frame(PING, b"beat") + frame(CONT, b"cd")
    for pieces in [[data[:cut], data[cut:]] for cut in range(1, len(data))] + [
            [data[i:i + 1] for i in range(len(data))]]:
        feed = new_feed()
        assert (feed.run(*pieces), feed.pongs) == (b"abcd", [b"beat"]), pieces


def test_reads_given_as_views_of_a_buffer_give_the_same_stdout(new_feed):
    """How the exec stream feeds its reads: memoryviews into one reused buffer."""
    space = memoryview(bytearray(SESSION))
    for cut in range(1, len(SESSION), 7):
        feed = new_feed()
        assert feed.run(space[:cut], space[cut:]) == STDOUT, f"reads cut at byte {cut}"


def test_a_pong_is_ignored(new_feed):
    feed = new_feed()
    assert feed.run(frame(PONG, b"x") + message(1, b"data")) == b"data"
    assert feed.pongs == []


def test_a_close_frame_ends_the_stream_and_what_follows_is_not_read(new_feed):
    feed = new_feed()
    assert feed.run(message(1, b"last") + frame(CLOSE, b"\x03\xe8") + message(1, b"never")) \
        == b"last"
    assert feed.reader.closed and feed.reader.close_payload == b"\x03\xe8"


@pytest.mark.parametrize("data, problem", [
    (frame(BINARY, b"\x01data", mask=b"abcd"), "masked"),
    (bytes((0xC2, 1, 1)), "reserved bits"),
    (frame(0x3, b"\x01x"), "unknown opcode"),
    (frame(0xB, b""), "unknown control opcode"),
    (frame(PING, b"x", fin=False), "control frame"),
    (frame(PING, b"x" * 126), "control frame"),
    (frame(CONT, b"x"), "continuation frame outside a message"),
    (frame(BINARY, b"\x01x", fin=False) + message(1, b"y"), "before the last one ended"),
])
def test_a_framing_violation_is_an_error(data, problem, new_feed):
    with pytest.raises(FrameError, match=problem):
        new_feed().run(data)


def test_a_large_stderr_frame_arrives_whole(new_feed):
    feed = new_feed()
    text = ALL_BYTES * 800  # 200 KiB: the compiled reader hands it over in pieces
    assert feed.run(message(2, text) + message(1, b"out")) == b"out"
    assert bytes(feed.stderr) == text


def test_a_chunk_holds_at_most_the_limit_and_the_rest_follows_in_order(new_reading_feed):
    feed = new_reading_feed()
    feed.arrivals.pieces.append(message(1, ALL_BYTES * 20) + frame(CLOSE, b""))
    chunks = []
    while not feed.frames.closed:
        feed.frames.fill(1000)
        chunks.append(feed.frames.take())
    assert b"".join(chunks) == ALL_BYTES * 20
    if feed.how == "compiled":  # exact; the Python reader stops after the read that passed it
        assert [len(c) for c in chunks] == [1000] * 5 + [120]


def test_a_connection_that_ends_without_a_close_frame_is_seen(new_reading_feed):
    feed = new_reading_feed()
    feed.arrivals.ended = True
    assert feed.run(message(1, b"partial")) == b"partial"
    assert feed.frames.eof and not feed.frames.closed


def test_the_compiled_reader_is_built_where_a_compiler_is():
    """pip builds it with the package when a C compiler is at hand (as in CI)."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the package installed pure Python")
    if os.environ.get("NETMON_PURE_PYTHON"):
        pytest.skip("NETMON_PURE_PYTHON is set for this run")
    assert channels._wsframes is not None


def test_environment_turns_the_compiled_reader_off():
    probe = "from kubectl_netmon.cluster import channels; print(channels._wsframes is None)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True,
                         env={**os.environ, "NETMON_PURE_PYTHON": "1"})
    assert run.stdout.strip() == "True"
