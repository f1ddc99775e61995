"""The exec stream: a process's pipes over the channel.k8s.io WebSocket protocols (v4, v5).

Each binary message is one channel byte and a payload: 0 stdin, 1 stdout, 2 stderr, 3 the final
metav1.Status, 4 resize; in v5 the client sends [255, channel] to close a stream. The server
opens with an empty frame on the lowest writable channel, sends output in frames of up to
32 KiB, writes the Status, then closes the WebSocket and waits for the client's close.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from typing import BinaryIO

from .websocket import OP_BINARY, ProtocolError, WebSocket

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHUNK = 32 * 1024
CLOSE_WAIT = 10.0  # seconds to wait for the client's close frame


def choose_protocol(offered: str) -> str | None:
    """The first protocol in the client's order that the server speaks."""
    for proto in (p.strip() for p in offered.split(",")):
        if proto in PROTOCOLS:
            return proto
    return None


def success() -> dict:
    return {"metadata": {}, "status": "Success"}


def exit_failure(argv: list[str], code: int) -> dict:
    """The kubelet's NonZeroExitCode status, the exit code as the ExitCode cause."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        f"[{' '.join(argv)}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_failure(err: str, doing: str = "error executing command in container") -> dict:
    """An InternalError status (e.g. the executable was not found), without an exit code."""
    err = f"{doing}: {err}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {err}",
        "reason": "InternalError",
        "details": {"causes": [{"message": err}]},
        "code": 500,
    }


class ExecSession:
    """Pumps one process's stdout/stderr to the client and the client's stdin to the process."""

    def __init__(self, ws: WebSocket, protocol: str, stdout: bool, stderr: bool) -> None:
        self.ws, self.v5 = ws, protocol.startswith("v5.")
        self.stdout, self.stderr = stdout, stderr
        self._gone = threading.Event()  # the client closed or the connection broke

    def open(self) -> None:
        """The empty frame on the lowest writable channel that tells the client we are ready."""
        self.ws.send(
            OP_BINARY, bytes((STDOUT if self.stdout else STDERR if self.stderr else ERROR,))
        )

    def run(self, proc: subprocess.Popen, argv: list[str]) -> None:
        """Stream until the process ends, send its Status, close. Never kills the process."""
        reader = threading.Thread(target=self._read_client, args=(proc,), daemon=True)
        reader.start()
        pumps = [
            threading.Thread(target=self._pump, args=(pipe, ch), daemon=True)
            for pipe, ch, want in (
                (proc.stdout, STDOUT, self.stdout),
                (proc.stderr, STDERR, self.stderr),
            )
            if pipe and want
        ]
        for t in pumps:
            t.start()
        for t in pumps:
            t.join()
        code = proc.wait()
        code = code if code >= 0 else 128 - code
        self.finish(success() if code == 0 else exit_failure(argv, code))
        reader.join(CLOSE_WAIT)

    def finish(self, status: dict) -> None:
        """Status on channel 3, then the close handshake."""
        if not self._gone.is_set():
            try:
                self.ws.send(OP_BINARY, bytes((ERROR,)) + json.dumps(status).encode())
            except OSError:
                self._gone.set()
        self.ws.close(1000)

    def _pump(self, pipe: BinaryIO, channel: int) -> None:
        prefix = bytes((channel,))
        while True:
            data = pipe.read(CHUNK)
            if not data:
                return
            if self._gone.is_set():
                pipe.close()  # like a closed CRI stream: the next write gets EPIPE
                return
            try:
                self.ws.send(OP_BINARY, prefix + data)
            except OSError:
                self._gone.set()

    def _read_client(self, proc: subprocess.Popen) -> None:
        try:
            while True:
                msg = self.ws.receive()
                if msg is None:
                    break
                self._client_message(proc, msg[1])
        except (EOFError, OSError, ProtocolError):
            pass
        self._gone.set()
        self._close_stdin(proc)

    def _client_message(self, proc: subprocess.Popen, data: bytes) -> None:
        if not data:
            return
        channel, payload = data[0], data[1:]
        if channel == STDIN and proc.stdin and payload:
            with contextlib.suppress(BrokenPipeError, ValueError):  # the process closed stdin
                proc.stdin.write(payload)
        elif channel == CLOSE and self.v5 and payload[:1] == bytes((STDIN,)):
            self._close_stdin(proc)

    @staticmethod
    def _close_stdin(proc: subprocess.Popen) -> None:
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
