"""Pytest fixtures for a running lab: import them from conftest.py.

`lab` (session): starts `python3 -m tests.lab.server` with a temporary state dir and yields a
Lab (kubeconfig, url, tokens, an HTTPS client, policy switching); stops it at the end.
`lab_ns` (function): a fresh namespace in that lab, deleted after the test.
`kubectl_bin` (session): the path of a real kubectl (see tests/lab/kubectl.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.lab import kubectl
from tests.lab.node import state

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds for the lab to come up (namespaces, certificates)
PR_SET_PDEATHSIG = 1  # prctl option: the signal a child gets when its parent dies
WAIT_TIMEOUT = 60.0  # seconds a test waits for a pod condition before failing
STOP_TIMEOUT = 60.0  # seconds the lab may take to stop its pods and remove its namespaces


class Lab:
    """A running lab: where its kubeconfig is, and a small HTTPS client for raw API requests."""

    def __init__(self, state_dir: Path, info: dict) -> None:
        self.state_dir = state_dir
        self.kubeconfig = state_dir / "kubeconfig"
        self.url: str = info["url"]
        self.port: int = info["port"]
        self.ca = state_dir / "pki" / "ca.crt"
        self.policy_path = state_dir / "policy.json"
        users = json.loads(self.policy_path.read_text())["users"]
        self.tokens = {name: u["token"] for name, u in users.items()}
        self.admin_token = self.tokens["lab-admin"]
        self.restricted_token = self.tokens["lab-restricted"]
        self.ssl = ssl.create_default_context(cafile=str(self.ca))

    def connect(self) -> http.client.HTTPSConnection:
        """A new HTTPS connection to the API server, verifying the lab's CA."""
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl, timeout=60)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request as the admin (or `token`); returns (status, decoded JSON or text)."""
        conn = self.connect()
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": content_type, **(headers or {})}
        if token != "":
            hdrs["Authorization"] = f"Bearer {token or self.admin_token}"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        return resp.status, json.loads(raw) if "json" in ctype else raw.decode()

    def watch(self, path: str, token: str | None = None) -> Iterator[dict]:
        """Events of a watch request (path includes ?watch=true...), as they arrive."""
        conn = self.connect()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token or self.admin_token}"})
        resp = conn.getresponse()
        try:
            while True:
                line = resp.readline()
                if not line:
                    return
                yield json.loads(line)
        finally:
            conn.close()

    def wait_for_pod(self, ns: str, name: str, done: Callable[[dict], bool]) -> dict:
        """Watch one pod until `done(pod)`; the pod as it was then."""
        path = (
            f"/api/v1/namespaces/{ns}/pods?watch=true&fieldSelector=metadata.name%3D{name}"
            f"&timeoutSeconds={int(WAIT_TIMEOUT)}"
        )
        for event in self.watch(path):
            if event["type"] != "DELETED" and done(event["object"]):
                return event["object"]
        raise AssertionError(f"pod {ns}/{name} did not reach the expected state in time")

    def create_pod(self, ns: str, pod: dict) -> dict:
        """Create a pod and wait until it is Running."""
        code, body = self.request("POST", f"/api/v1/namespaces/{ns}/pods", pod)
        assert code == 201, body
        return self.wait_for_pod(
            ns, body["metadata"]["name"], lambda p: p["status"].get("phase") == "Running"
        )

    def set_rules(self, user: str, rules: list[dict]) -> None:
        """Replace a user's RBAC rules (the server rereads policy.json when it changes)."""
        policy = json.loads(self.policy_path.read_text())
        policy["rules"][user] = rules
        tmp = self.policy_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(policy))
        tmp.replace(self.policy_path)

    @contextlib.contextmanager
    def rules(self, user: str, rules: list[dict]) -> Iterator[None]:
        """Use these RBAC rules for `user` inside the block, then restore the old ones."""
        old = json.loads(self.policy_path.read_text())["rules"].get(user, [])
        self.set_rules(user, rules)
        try:
            yield
        finally:
            self.set_rules(user, old)

    def kubectl(
        self,
        binary: Path,
        *args: str,
        context: str = "lab",
        stdin: bytes = b"",
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """Run a real kubectl against the lab; stdout and stderr as bytes."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.state_dir)}
        return subprocess.run(
            [str(binary), "--context", context, *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=timeout,
        )


def start_lab(state_dir: Path, nodes: int = 2) -> tuple[subprocess.Popen, Lab]:
    """Start the lab process and wait for its server.json; its output goes to lab.log there."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "lab.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.lab.server",
                "--state-dir",
                str(state_dir),
                "--nodes",
                str(nodes),
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_term_with_parent,
        )
    info_path = state_dir / "server.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not info_path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"lab server exited: {log_path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            stop_lab(proc)
            raise RuntimeError("lab server did not start in time")
        time.sleep(0.05)
    return proc, Lab(state_dir, json.loads(info_path.read_text()))


def _term_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even killed, so the lab cleans up."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_lab(proc: subprocess.Popen, state_dir: Path | None = None) -> None:
    """SIGTERM the lab (it stops every pod) and wait for it; one that does not stop in time is
    killed, and what it recorded in state_dir (network namespaces, processes) removed."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        if state_dir is not None:
            removed = state.remove_all(state_dir)
            with open(state_dir / "lab.log", "a") as log:
                print(f"fixtures: killed after {STOP_TIMEOUT:.0f} s; removed {removed}", file=log)


_SHARED: dict[str, Any] = {}  # one lab per session even when several modules import `lab`


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A running lab cluster with two nodes, shared by the whole session (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root for network namespaces; CI runs as root")
    if "lab" not in _SHARED:
        proc, running = start_lab(tmp_path_factory.mktemp("lab"))
        _SHARED.update(proc=proc, lab=running)
    yield _SHARED["lab"]
    if "proc" in _SHARED:
        stop_lab(_SHARED.pop("proc"), _SHARED["lab"].state_dir)
        _SHARED.clear()


@pytest.fixture
def lab_ns(lab: Lab) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    code, body = lab.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert code == 201, body
    yield name
    lab.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    """A real kubectl binary (versioned 1.32 copy, PATH, or unpacked from PyPI)."""
    try:
        return kubectl.find()
    except kubectl.KubectlNotFound as e:
        pytest.skip(str(e))


def pod(
    name: str, command: list[str] | None = None, image: str = "busybox:1.36", **spec: Any
) -> dict:
    """A one-container pod manifest (command defaults to a long sleep)."""
    container = {"name": "app", "image": image, "command": command or ["sleep", "3600"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


def workload(
    kind: str,
    name: str,
    replicas: int | None = 2,
    labels: dict | None = None,
    selector: dict | None = None,
    **spec: Any,
) -> dict:
    """An apps/v1 workload manifest whose pods sleep (replicas None: a DaemonSet's spec)."""
    labels = labels or {"app": name}
    body: dict = {
        "selector": {"matchLabels": selector if selector is not None else labels},
        "template": {"metadata": {"labels": labels}, "spec": pod(name)["spec"]},
        **spec,
    }
    if replicas is not None:
        body["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}


class ExecResult:
    """What a WebSocket exec returned: the protocol, every data frame, the status, the close."""

    def __init__(self, protocol: str, frames: list[bytes], close_code: int | None) -> None:
        self.protocol, self.frames, self.close_code = protocol, frames, close_code

    def channel(self, ch: int) -> bytes:
        """Everything sent on one channel, concatenated."""
        return b"".join(f[1:] for f in self.frames if f[:1] == bytes((ch,)))

    @property
    def status(self) -> dict:
        """The metav1.Status sent on channel 3."""
        return json.loads(self.channel(3))


def ws_exec(
    lab: Lab,
    ns: str,
    name: str,
    argv: list[str],
    *,
    stdin: bytes | None = None,
    protocols: tuple[str, ...] = ("v5.channel.k8s.io", "v4.channel.k8s.io"),
    token: str | None = None,
    container: str | None = None,
) -> ExecResult:
    """Exec over WebSocket with websocket-client, as the product does; reads until close."""
    query = [("command", a) for a in argv] + [("stdout", "true"), ("stderr", "true")]
    if stdin is not None:
        query.append(("stdin", "true"))
    if container:
        query.append(("container", container))
    url = (
        f"wss://127.0.0.1:{lab.port}/api/v1/namespaces/{ns}/pods/{name}/exec?"
        + urllib.parse.urlencode(query)
    )
    ws = websocket.create_connection(
        url,
        header=[f"Authorization: Bearer {token or lab.admin_token}"],
        subprotocols=list(protocols),
        sslopt={"ca_certs": str(lab.ca)},
        timeout=60,
    )
    if stdin is not None:
        ws.send_binary(b"\x00" + stdin)
        if ws.subprotocol.startswith("v5."):
            ws.send_binary(b"\xff\x00")
    frames, close_code = [], None
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            close_code = int.from_bytes(frame.data[:2], "big") if frame.data else None
            ws.send_close()
            break
        frames.append(frame.data)
    ws.close()
    return ExecResult(ws.subprotocol, frames, close_code)
