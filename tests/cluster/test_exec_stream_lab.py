"""ExecStream end to end: v5 against the lab's API server, v4 against a server that speaks only
v4 (a Kubernetes before 1.30), each running a real process whose output is checked byte for
byte."""

from __future__ import annotations

import socketserver
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlparse

import pytest
from kubernetes import config
from kubernetes.client import Configuration

from kubectl_netmon.cluster.exec_stream import ExecStream
from tests.lab.apiserver.execstream import ExecSession
from tests.lab.apiserver.websocket import WebSocket, accept_key
from tests.lab.fixtures import pod

COUNT = 2_000_000  # 8 MB of big-endian sequence numbers: a lost, repeated or swapped byte shows
NUMBERS = ["python3", "-c", "import sys; sys.stdout.buffer.write(b''.join("
           f"i.to_bytes(4, 'big') for i in range({COUNT})))"]
EXPECTED = b"".join(struct.pack(">I", i) for i in range(COUNT))
V4 = "v4.channel.k8s.io"


@pytest.fixture(scope="module")
def lab_cfg(lab) -> Iterator[Configuration]:
    """The lab's client configuration, with a running pod `web` in namespace exec-stream."""
    lab.request("POST", "/api/v1/namespaces", {"metadata": {"name": "exec-stream"}})
    lab.create_pod("exec-stream", pod("web"))
    yield config.new_client_from_config(config_file=str(lab.kubeconfig),
                                        context="lab").configuration
    lab.request("DELETE", "/api/v1/namespaces/exec-stream")


def run(cfg: Configuration, command: list[str], **kw) -> tuple[ExecStream, bytes]:
    stream = ExecStream(cfg, "exec-stream", "web", command, **kw)
    stream.connect()
    try:
        return stream, b"".join(stream.chunks())
    finally:
        stream.close()


@pytest.mark.usefixtures("speedups_off")
def test_v5_delivers_every_stdout_byte_once_and_in_order(lab_cfg):
    stream, out = run(lab_cfg, NUMBERS)
    assert stream.protocol == "v5.channel.k8s.io"
    assert out == EXPECTED
    assert stream.bytes_received == len(EXPECTED)
    assert stream.exit is not None and stream.exit.code == 0


def test_v4_delivers_every_stdout_byte_once_and_in_order(v4_server):
    stream, out = run(v4_server, [sys.executable, *NUMBERS[1:]])
    assert stream.protocol == V4
    assert out == EXPECTED
    assert stream.exit is not None and stream.exit.code == 0


@pytest.mark.usefixtures("speedups_off")
def test_stderr_and_the_exit_code_arrive_beside_stdout(lab_cfg):
    stderr = bytearray()
    stream, out = run(lab_cfg, ["sh", "-c", "printf 'o\\0ut'; printf 'err\\n' >&2; exit 3"],
                      on_stderr=stderr.extend)
    assert (out, bytes(stderr), stream.exit.code) == (b"o\0ut", b"err\n", 3)


def test_the_v5_half_close_gives_the_remote_command_eof_on_stdin(lab_cfg):
    stream = ExecStream(lab_cfg, "exec-stream", "web", ["cat"], stdin=True)
    stream.connect()
    stream.send_stdin(b"\x00\xffbinary in")
    stream.close_stdin()
    out = b"".join(stream.chunks())
    stream.close()
    assert (out, stream.exit.code) == (b"\x00\xffbinary in", 0)


def test_stdin_written_from_another_thread_while_a_fast_stream_is_read_loses_nothing(lab_cfg):
    """One TLS connection, read by the consumer while another thread writes (a Ctrl-C's stdin
    close, say): the two never run inside OpenSSL at once, so the stream is never torn."""
    size = 150_000_000
    for _ in range(3):  # without the guard, most rounds of this size end torn
        stream = ExecStream(lab_cfg, "exec-stream", "web",
                            ["sh", "-c", f"head -c {size} /dev/zero; cat >/dev/null"], stdin=True)
        stream.connect()
        done = threading.Event()

        def write(stream: ExecStream = stream, done: threading.Event = done) -> None:
            while not done.is_set():
                stream.send_stdin(b"x")

        writer = threading.Thread(target=write)
        writer.start()
        got = 0
        try:
            for chunk in stream.chunks():
                got += len(chunk)
                if got >= size:
                    done.set()
                    writer.join()
                    stream.close_stdin()
        finally:
            done.set()
            writer.join()
            stream.close()
        assert (got, stream.exit.code) == (size, 0)


@pytest.mark.usefixtures("speedups_off")
def test_closing_the_stream_from_another_thread_ends_chunks_quietly(lab_cfg):
    stream = ExecStream(lab_cfg, "exec-stream", "web", ["sh", "-c", "echo up; sleep 5"])
    stream.connect()
    chunks = stream.chunks()
    assert next(chunks) == b"up\n"
    threading.Timer(0.2, stream.close).start()
    assert list(chunks) == []


@pytest.mark.usefixtures("speedups_off")
def test_a_quiet_stream_says_so_every_idle_interval_once_asked(lab_cfg):
    """idle_every: b"" while nothing arrives (a reader in the main thread keeps its clocks),
    the output itself unchanged."""
    stream = ExecStream(lab_cfg, "exec-stream", "web", ["sh", "-c", "echo up; sleep 1; echo on"])
    stream.connect()
    chunks = stream.chunks()
    assert next(chunks) == b"up\n"
    stream.idle_every(0.1)
    rest = list(chunks)
    stream.close()
    assert b"".join(rest) == b"on\n" and rest.count(b"") >= 5


class _V4Exec(socketserver.StreamRequestHandler):
    """One exec over plain WebSocket, answering only v4, run by the lab's own exec session."""

    def handle(self) -> None:
        target = self.rfile.readline().split()[1].decode()
        headers = {}
        while line := self.rfile.readline().strip():
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        assert V4 in headers["sec-websocket-protocol"]
        argv = [v for k, v in parse_qsl(urlparse(target).query) if k == "command"]
        self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                         + accept_key(headers["sec-websocket-key"]).encode()
                         + f"\r\nSec-WebSocket-Protocol: {V4}\r\n\r\n".encode())
        session = ExecSession(WebSocket(self.rfile, self.wfile), V4, True, True)
        session.open()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0)
        session.run(proc, argv)


@pytest.fixture
def v4_server() -> Iterator[Configuration]:
    """A client configuration pointing at a local v4-only exec server."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _V4Exec)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = Configuration()
    cfg.host = f"http://127.0.0.1:{server.server_address[1]}"
    yield cfg
    server.shutdown()
    server.server_close()
