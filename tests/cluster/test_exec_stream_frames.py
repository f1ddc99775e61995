"""The exec stream's channel reader on raw server bytes: frames built here from RFC 6455 section
5.2 and the channel.k8s.io prefix, fed in every way a socket may cut them."""

from __future__ import annotations

import json
import struct

import pytest

from kubectl_netmon.cluster.channels import ChannelReader, FrameError

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


class Feed:
    """A reader with its stderr and pongs recorded; `run` feeds pieces, returns all stdout."""

    def __init__(self) -> None:
        self.stderr, self.pongs = bytearray(), []
        self.reader = ChannelReader(self.stderr.extend, self.pongs.append)

    def run(self, *pieces: bytes) -> bytes:
        out: list = []
        for p in pieces:
            self.reader.feed(p, out)
        return b"".join(out)


# A session as a server sends it: the empty opening frame, output on both channels, a status.
STATUS = json.dumps({"metadata": {}, "status": "Success"}).encode()
SESSION = (message(1, b"") + message(1, ALL_BYTES) + message(2, b"warning\n")
           + message(1, b"\r\n\x00tail") + message(3, STATUS) + frame(CLOSE, b"\x03\xe8"))
STDOUT = ALL_BYTES + b"\r\n\x00tail"


def test_stdout_arrives_whole_and_in_order_when_read_at_once():
    feed = Feed()
    assert feed.run(SESSION) == STDOUT
    assert bytes(feed.stderr) == b"warning\n"


def test_stdout_arrives_whole_and_in_order_wherever_a_read_ends():
    for cut in range(1, len(SESSION)):
        feed = Feed()
        got = (feed.run(SESSION[:cut], SESSION[cut:]), bytes(feed.stderr), feed.reader.closed)
        assert got == (STDOUT, b"warning\n", True), f"reads cut at byte {cut}"


def test_stdout_arrives_whole_when_every_read_is_one_byte():
    feed = Feed()
    assert feed.run(*(SESSION[i:i + 1] for i in range(len(SESSION)))) == STDOUT


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 200_000])
def test_every_length_encoding_is_read(size):
    payload = ALL_BYTES * (size // 256 + 1)
    assert Feed().run(message(1, payload[:size])) == payload[:size]


def test_one_read_of_many_frames_gives_all_their_stdout_in_order():
    reader = ChannelReader(None, lambda _: None)
    out: list = []
    assert reader.feed(message(1, b"ab") + message(1, b"cd") + message(1, b"ef"), out) == 6
    assert b"".join(out) == b"abcdef"


def test_a_fragmented_message_keeps_the_channel_of_its_first_frame():
    data = (frame(BINARY, b"\x02err", fin=False) + frame(CONT, b"or\n")
            + frame(BINARY, b"\x01out", fin=False) + frame(CONT, b"", fin=False)
            + frame(CONT, b"put"))
    feed = Feed()
    assert feed.run(data) == b"output"
    assert bytes(feed.stderr) == b"error\n"


def test_a_channel_byte_alone_in_the_first_fragment_names_the_channel_of_the_rest():
    assert Feed().run(frame(BINARY, b"\x01", fin=False) + frame(CONT, b"data")) == b"data"


def test_the_status_on_channel_3_is_kept_once_its_message_is_whole():
    feed = Feed()
    feed.run(frame(BINARY, b"\x03" + STATUS[:10], fin=False))
    assert feed.reader.status is None
    feed.run(frame(CONT, STATUS[10:]))
    assert feed.reader.status == STATUS


def test_a_ping_is_answered_with_its_payload_even_between_fragments():
    feed = Feed()
    out = feed.run(frame(BINARY, b"\x01ab", fin=False) + frame(PING, b"beat")
                   + frame(CONT, b"cd"))
    assert (out, feed.pongs) == (b"abcd", [b"beat"])


def test_a_ping_between_fragments_never_becomes_stdout_wherever_reads_end():
    data = frame(BINARY, b"\x01ab", fin=False) + frame(PING, b"beat") + frame(CONT, b"cd")
    for pieces in [[data[:cut], data[cut:]] for cut in range(1, len(data))] + [
            [data[i:i + 1] for i in range(len(data))]]:
        feed = Feed()
        assert (feed.run(*pieces), feed.pongs) == (b"abcd", [b"beat"]), pieces


def test_reads_given_as_views_of_a_buffer_give_the_same_stdout():
    """How the exec stream feeds its reads: memoryviews into one reused buffer."""
    space = memoryview(bytearray(SESSION))
    for cut in range(1, len(SESSION), 7):
        feed = Feed()
        assert feed.run(space[:cut], space[cut:]) == STDOUT, f"reads cut at byte {cut}"


def test_a_pong_is_ignored():
    feed = Feed()
    assert feed.run(frame(PONG, b"x") + message(1, b"data")) == b"data"
    assert feed.pongs == []


def test_a_close_frame_ends_the_stream_and_what_follows_is_not_read():
    feed = Feed()
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
def test_a_framing_violation_is_an_error(data, problem):
    with pytest.raises(FrameError, match=problem):
        Feed().run(data)
