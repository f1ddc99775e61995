"""The lab's node runtime: real namespaces, routes and processes (needs root)."""

from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.lab.node import netns
from tests.lab.runtime import ContainerNotRunning, ExecNotFound, Runtime

ECHO_SERVER = textwrap.dedent("""
    import socket
    srv = socket.create_server(("0.0.0.0", 7000))
    while True:
        conn, peer = srv.accept()
        data = conn.recv(100)
        conn.sendall(peer[0].encode() + b" " + data)
        conn.close()
""")

# Retries until the server listens: the container may still be starting.
ECHO_CLIENT = textwrap.dedent("""
    import socket, sys, time
    for _ in range(100):
        try:
            conn = socket.create_connection((sys.argv[1], 7000), timeout=5)
            break
        except ConnectionRefusedError:
            time.sleep(0.1)
    conn.sendall(b"hello")
    sys.stdout.write(conn.recv(100).decode())
""")


@pytest.fixture
def rt(root, tmp_path):
    runtime = Runtime(tmp_path / "state", prefix=f"nmrt-{secrets.token_hex(3)}")
    runtime.create_nodes(2)
    yield runtime
    runtime.teardown()


def sandbox(rt: Runtime, uid: str, node: str, host_network: bool = False) -> str:
    """A pod with one long-running container, `app`, to exec into; returns the pod's IP."""
    ip = rt.start_pod(uid, node, host_network)
    rt.start_container(uid, "app", ["sleep", "1000"], {}, None, lambda c: None)
    return ip


def run(rt: Runtime, uid: str, argv: list[str], stdin: bytes | None = None, container="app"):
    proc = rt.exec(uid, container, argv, stdin is not None)
    out, err = proc.communicate(stdin, timeout=60)
    return proc.returncode, out, err


def serve_echo(rt: Runtime, uid: str) -> None:
    rt.start_container(uid, "echo", [sys.executable, "-c", ECHO_SERVER], {}, None, lambda c: None)


def prefixed_namespaces(prefix: str) -> list[str]:
    return [p.name for p in netns.NETNS_DIR.glob(f"{prefix}-*")]


def test_pods_on_different_nodes_talk_tcp_without_nat(rt):
    client_ip = sandbox(rt, "a", "node-1")
    server_ip = rt.start_pod("b", "node-2")
    serve_echo(rt, "b")
    rc, out, _ = run(rt, "a", [sys.executable, "-c", ECHO_CLIENT, server_ip])
    assert (rc, out) == (0, f"{client_ip} hello".encode())


def test_pods_on_the_same_node_talk_tcp(rt):
    client_ip = sandbox(rt, "a", "node-1")
    server_ip = rt.start_pod("b", "node-1")
    serve_echo(rt, "b")
    rc, out, _ = run(rt, "a", [sys.executable, "-c", ECHO_CLIENT, server_ip])
    assert (rc, out) == (0, f"{client_ip} hello".encode())


def test_nodes_route_other_nodes_pod_cidrs_via_their_internal_ip(rt):
    sandbox(rt, "h", "node-1", host_network=True)
    _, out, _ = run(rt, "h", ["ip", "route"])
    assert b"10.244.2.0/24 via 172.31.0.12 dev eth0" in out


def test_pod_has_eth0_with_its_ip_and_a_default_route_via_the_bridge(rt):
    ip = sandbox(rt, "a", "node-2")
    _, addrs, _ = run(rt, "a", ["ip", "-br", "-4", "addr"])
    _, routes, _ = run(rt, "a", ["ip", "route"])
    assert ip == "10.244.2.2"
    assert b"10.244.2.2/24" in addrs.split(b"eth0", 1)[1]
    assert b"default via 10.244.2.1 dev eth0" in routes


def test_pod_veth_peer_is_on_the_nodes_cni0_bridge(rt):
    rt.start_pod("a", "node-1")
    sandbox(rt, "h", "node-1", host_network=True)
    _, out, _ = run(rt, "h", ["ip", "-br", "link", "show", "master", "cni0"])
    assert out.startswith(b"veth")


def test_host_network_pod_gets_the_node_ip_and_sees_the_nodes_interfaces(rt):
    ip = sandbox(rt, "h", "node-1", host_network=True)
    _, out, _ = run(rt, "h", ["ip", "-br", "-4", "addr"])
    assert ip == "172.31.0.11"
    assert b"172.31.0.11/24" in out and b"10.244.1.1/24" in out


def test_exec_output_is_binary_safe_and_keeps_the_exit_code(rt):
    sandbox(rt, "a", "node-1")
    code = "import sys, os; os.write(1, bytes(range(256))); os.write(2, b'e'); sys.exit(3)"
    assert run(rt, "a", [sys.executable, "-c", code]) == (3, bytes(range(256)), b"e")


def test_exec_with_stdin_passes_bytes_through(rt):
    sandbox(rt, "a", "node-1")
    data = bytes(range(256)) * 100
    assert run(rt, "a", ["cat"], stdin=data) == (0, data, b"")


def test_exec_of_a_missing_command_says_what_runc_says(rt):
    sandbox(rt, "a", "node-1")
    with pytest.raises(ExecNotFound) as err:
        rt.exec("a", "app", ["nosuchcmd"], False)
    assert str(err.value).startswith('failed to exec in container: failed to start exec "')
    assert str(err.value).endswith(
        "OCI runtime exec failed: exec failed: unable to start container process: "
        'exec: "nosuchcmd": executable file not found in $PATH: unknown'
    )


def test_exec_of_a_missing_absolute_path_says_stat_failed(rt):
    sandbox(rt, "a", "node-1")
    with pytest.raises(ExecNotFound, match='exec: "/no/such": stat /no/such: no such file'):
        rt.exec("a", "app", ["/no/such"], False)


def test_a_file_in_a_containers_tmp_is_seen_by_its_execs_only(rt):
    sandbox(rt, "a", "node-1")
    rt.start_container("a", "b", ["sleep", "1000"], {}, None, lambda c: None)
    name = f"/tmp/only-in-app-{secrets.token_hex(4)}"
    run(rt, "a", ["sh", "-c", f"echo hi > {name}"])
    seen = {c: run(rt, "a", ["cat", name], container=c)[1] for c in ("app", "b")}
    assert (seen, Path(name).exists()) == ({"app": b"hi\n", "b": b""}, False)


def test_the_nodes_files_under_tmp_stay_visible_in_a_container(rt):
    """The lab has no images: a state dir (or checkout) under /tmp is the node's own content."""
    assert rt.state_dir.resolve().is_relative_to("/tmp")  # pytest's tmp_path: the case in point
    node_file = rt.state_dir / f"program-{secrets.token_hex(4)}"
    node_file.write_text("from the node\n")
    sandbox(rt, "a", "node-1")
    assert run(rt, "a", ["cat", str(node_file)])[1] == b"from the node\n"


def test_an_empty_dir_volume_is_shared_by_the_pods_containers(rt):
    volume = [("shared", "/tmp/shared")]
    rt.start_pod("a", "node-1")
    rt.start_container("a", "w", ["sh", "-c", "echo hi > /tmp/shared/f; exec sleep 1000"], {},
                       None, lambda c: None, volume)
    rt.start_container("a", "r", ["sleep", "1000"], {}, None, lambda c: None, volume)
    _wait_for(lambda: run(rt, "a", ["cat", "/tmp/shared/f"], container="r")[1] == b"hi\n")


def test_container_with_a_missing_command_fails_to_start_like_runc_create(rt):
    rt.start_pod("a", "node-1")
    with pytest.raises(
        ExecNotFound,
        match="runc create failed: unable to start container "
        'process: exec: "nosuchcmd": executable file not found in \\$PATH',
    ):
        rt.start_container("a", "c", ["nosuchcmd"], {}, None, lambda c: None)


def test_container_output_goes_to_its_log_and_its_exit_code_to_on_exit(rt, tmp_path):
    rt.start_pod("a", "node-1")
    codes: queue.Queue[int] = queue.Queue()
    script = 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 7'
    rt.start_container("a", "c", ["sh", "-c", script], {"GREETING": "hi"}, str(tmp_path), codes.put)
    assert codes.get(timeout=30) == 7
    assert rt.container_log("a", "c").read_bytes() == f"hi from {tmp_path}\noops\n".encode()


def test_stopping_a_pod_reports_the_signal_as_128_plus_its_number(rt):
    rt.start_pod("a", "node-1")
    codes: queue.Queue[int] = queue.Queue()
    rt.start_container("a", "c", ["sleep", "1000"], {}, None, codes.put)
    rt.stop_pod("a")
    assert codes.get(timeout=30) == 128 + signal.SIGTERM


def test_stop_pod_kills_the_whole_process_tree_and_deletes_the_netns(rt):
    rt.start_pod("a", "node-1")
    rt.start_container(
        "a", "c", ["sh", "-c", "setsid sleep 1000 & sleep 1000"], {}, None, lambda c: None
    )
    ns = f"{rt.prefix}-pod-a"
    _wait_for(lambda: len(netns.pids_in(ns)) >= 3)
    pids = netns.pids_in(ns)
    rt.stop_pod("a")
    assert not netns.exists(ns)
    assert not [pid for pid in pids if _alive(pid)]


def test_exec_into_an_exited_container_says_what_the_cri_says(rt):
    rt.start_pod("a", "node-1")
    codes: queue.Queue[int] = queue.Queue()
    rt.start_container("a", "c", ["true"], {}, None, codes.put)
    codes.get(timeout=30)
    with pytest.raises(ContainerNotRunning, match="container is in CONTAINER_EXITED state"):
        rt.exec("a", "c", ["true"], False)


def test_stopping_a_host_network_pod_kills_its_processes_and_keeps_the_node(rt):
    rt.start_pod("h", "node-1", host_network=True)
    pid = rt.start_container("h", "c", ["sleep", "1000"], {}, None, lambda c: None)
    rt.stop_pod("h")
    assert not _alive(pid)
    assert netns.exists(f"{rt.prefix}-node-1")


def test_a_stopped_pods_ip_is_the_next_one_handed_out(rt):
    first = rt.start_pod("a", "node-1")
    rt.start_pod("b", "node-1")
    rt.stop_pod("a")
    assert rt.start_pod("c", "node-1") == first


def test_pods_started_from_many_threads_get_distinct_ips(rt):
    with ThreadPoolExecutor(8) as pool:
        ips = set(pool.map(lambda i: rt.start_pod(f"p{i}", "node-1"), range(8)))
    assert ips == {f"10.244.1.{i}" for i in range(2, 10)}


def test_teardown_removes_every_namespace(rt):
    rt.start_pod("a", "node-1")
    rt.start_container("a", "c", ["sleep", "1000"], {}, None, lambda c: None)
    rt.teardown()
    assert prefixed_namespaces(rt.prefix) == []


OWNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tests.lab.runtime import Runtime
    rt = Runtime(Path(sys.argv[1]), sys.argv[2])
    rt.create_nodes(2)
    rt.start_pod("a", "node-1")
    rt.start_pod("h", "node-2", host_network=True)
    rt.start_container("a", "c", ["sleep", "1000"], {}, None, lambda c: None)
    rt.start_container("h", "c", ["sleep", "1000"], {}, None, lambda c: None)
    print("ready", flush=True)
    time.sleep(1000)
""")


def test_cleanup_leftovers_after_the_owner_was_killed_removes_everything(root, tmp_path):
    prefix = f"nmrt-{secrets.token_hex(3)}"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path), prefix],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert owner.stdout.readline() == b"ready\n"
    sleepers = netns.pids_in(f"{prefix}-pod-a") + netns.pids_in(f"{prefix}-node-2")
    owner.kill()
    owner.wait()
    removed = Runtime.cleanup_leftovers(tmp_path)
    expected = [f"{prefix}-{n}" for n in ("fabric", "node-1", "node-2", "pod-a")]
    assert sorted(removed) == expected
    assert prefixed_namespaces(prefix) == []
    assert not [pid for pid in sleepers if _alive(pid)]


def test_a_second_runtime_on_a_live_state_dir_is_refused(rt):
    with pytest.raises(RuntimeError, match="cleanup_leftovers"):
        Runtime(rt.state_dir, prefix="nmrt-other")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


def _wait_for(cond, tries: int = 300) -> None:
    for _ in range(tries):
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met")
