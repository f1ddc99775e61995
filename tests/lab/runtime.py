"""The lab's node runtime: nodes and pods as network namespaces, containers as real processes.

Layout (all inside namespaces this runtime creates, named `<prefix>-...`):
  fabric netns: bridge `br0`; node N's `eth0` (InternalIP 172.31.0.(10+N)/24) is plugged into it.
                br0 holds the control plane's address 172.31.0.1 and the `kubernetes` Service's
                ClusterIP 10.96.0.1, where the API server also listens (port 443: what
                kube-proxy's DNAT to the API server gives a pod), with routes to every pod CIDR.
  node netns:   bridge `cni0` with the first IP of the pod CIDR 10.244.N.0/24, IP forwarding on,
                a route to every other node's pod CIDR via that node's InternalIP, and to the
                ClusterIP via the control plane.
  pod netns:    `eth0` (peer `vethXXXXXXXX` on the node's cni0), an IP from the node's CIDR,
                default route via cni0's IP. hostNetwork pods run in the node netns instead.
IPv6 is off in every namespace, so captures hold only the traffic the lab's programs make.
Each container has its own mount namespace with a private /tmp (see node/procs.py), into which
the node's own files that live under /tmp (this repository, whose programs the lab's images
stand for, and the state dir) are bound back at the same paths; emptyDir volumes are directories
under `<state_dir>/pods/<uid>/volumes/`, removed with the pod.
Everything created is recorded in `<state_dir>/runtime.json` so that `cleanup_leftovers` can
remove it from a fresh process after a crash.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.node import netns, procs, state
from tests.lab.node.ipam import Ipam
from tests.lab.node.procs import ExecNotFound
from tests.lab.node.state import StateFile

__all__ = ["ContainerNotRunning", "ExecNotFound", "NodeInfo", "Runtime"]

REPO = Path(__file__).resolve().parents[2]
CONTROL_PLANE_IP = "172.31.0.1"


class ContainerNotRunning(Exception):
    """An exec into a container whose process has exited; str() is the CRI's message (the API
    server reports it like ExecNotFound)."""


@dataclass(frozen=True)
class NodeInfo:
    """What the API server publishes about a node (spec.podCIDR, status.addresses InternalIP)."""

    name: str
    internal_ip: str
    pod_cidr: str
    netns: str


@dataclass
class _Pod:
    node: NodeInfo
    ip: str
    netns: str
    host_network: bool
    containers: dict[str, tuple[subprocess.Popen, dict[str, str]]] = field(default_factory=dict)
    pgids: list[int] = field(default_factory=list)


class Runtime:
    """Creates nodes and pods, runs containers and execs; thread-safe (the API server calls it
    from its request threads)."""

    KUBERNETES_SERVICE = ("10.96.0.1", 443)  # the `kubernetes` Service's ClusterIP and port

    def __init__(self, state_dir: Path, prefix: str = "nml") -> None:
        """Raises RuntimeError when state_dir still records another runtime's namespaces (a
        crashed lab): Runtime.cleanup_leftovers(state_dir) first, or they would be forgotten."""
        if state.read(state_dir) is not None:
            raise RuntimeError(
                f"{state_dir} holds a lab runtime's state; Runtime.cleanup_leftovers() it first"
            )
        self.state_dir = Path(state_dir)
        self.prefix = prefix
        self._state = StateFile(self.state_dir, prefix)
        self._lock = threading.RLock()
        self._nodes: dict[str, NodeInfo] = {}
        self._ipam: dict[str, Ipam] = {}
        self._pods: dict[str, _Pod] = {}

    # nodes -------------------------------------------------------------------------------------

    def create_nodes(self, n: int) -> list[NodeInfo]:
        """Create the fabric and nodes node-1..node-n, fully routed to each other."""
        with self._lock:
            fabric = f"{self.prefix}-fabric"
            self._new_netns(fabric)
            netns.sysctl(fabric, "net.ipv6.conf.all.disable_ipv6=1")
            netns.ip_batch(fabric, ["link add br0 type bridge", "link set br0 up",
                                    f"addr add {CONTROL_PLANE_IP}/24 dev br0",
                                    f"addr add {self.KUBERNETES_SERVICE[0]}/32 dev br0"])
            nodes = [self._create_node(i, fabric) for i in range(1, n + 1)]
            netns.ip_batch(fabric, [f"route add {node.pod_cidr} via {node.internal_ip}"
                                    for node in nodes])
            for node in nodes:
                routes = [
                    f"route add {other.pod_cidr} via {other.internal_ip}"
                    for other in nodes
                    if other is not node
                ]
                netns.ip_batch(node.netns, [
                    *routes, f"route add {self.KUBERNETES_SERVICE[0]}/32 via {CONTROL_PLANE_IP}"])
            return nodes

    def listen_for_pods(self) -> socket.socket:
        """A socket listening on the `kubernetes` Service's ClusterIP and port, which pods and
        nodes reach: what the API server serves them on."""
        return netns.listen_in(f"{self.prefix}-fabric", self.KUBERNETES_SERVICE)

    def _create_node(self, i: int, fabric: str) -> NodeInfo:
        name = f"node-{i}"
        ns = f"{self.prefix}-{name}"
        ipam = Ipam(f"10.244.{i}.0/24")
        info = NodeInfo(name, f"172.31.0.{10 + i}", str(ipam.network), ns)
        self._new_netns(ns)
        netns.sysctl(ns, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.disable_ipv6=1")
        netns.ip(fabric, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", ns)
        netns.ip_batch(fabric, [f"link set {name} master br0", f"link set {name} up"])
        netns.ip_batch(
            ns,
            [
                f"addr add {info.internal_ip}/24 dev eth0",
                "link set eth0 up",
                "link add cni0 type bridge",
                f"addr add {ipam.gateway}/{ipam.network.prefixlen} dev cni0",
                "link set cni0 up",
            ],
        )
        self._nodes[name] = info
        self._ipam[name] = ipam
        self._state.data["nodes"][name] = info.__dict__
        self._state.save()
        return info

    # pods --------------------------------------------------------------------------------------

    def start_pod(self, uid: str, node: str, host_network: bool = False) -> str:
        """Create the pod sandbox on node and return its IP (the node's IP for hostNetwork)."""
        with self._lock:
            info = self._nodes[node]
            if host_network:
                pod = _Pod(info, info.internal_ip, info.netns, True)
            else:
                pod = self._create_sandbox(uid, info)
            self._pods[uid] = pod
            self._record_pod(uid, pod)
            return pod.ip

    def _create_sandbox(self, uid: str, info: NodeInfo) -> _Pod:
        ipam = self._ipam[info.name]
        ns = f"{self.prefix}-pod-{uid}"
        veth = "veth" + hashlib.sha1(f"{self.prefix}/{uid}".encode()).hexdigest()[:8]
        ip = ipam.allocate()
        try:
            self._new_netns(ns)
            netns.sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1")
            netns.ip(
                info.netns, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns
            )
            netns.ip_batch(info.netns, [f"link set {veth} master cni0", f"link set {veth} up"])
            netns.ip_batch(
                ns,
                [
                    f"addr add {ip}/{ipam.network.prefixlen} dev eth0",
                    "link set eth0 up",
                    f"route add default via {ipam.gateway}",
                ],
            )
        except Exception:
            ipam.release(ip)
            self._delete_netns(ns)
            raise
        return _Pod(info, ip, ns, False)

    def start_container(
        self,
        uid: str,
        name: str,
        argv: list[str],
        env: dict[str, str],
        workdir: str | None,
        on_exit: Callable[[int], None],
        volumes: Sequence[tuple[str, str]] = (),
    ) -> int:
        """Start a container's process in the pod, with (emptyDir volume name, mount path)
        volumes; return its pid. A restart (same name) gets a fresh /tmp. Raises ExecNotFound."""
        with self._lock:
            pod = self._pods[uid]
            full_env = procs.container_env(env)
            log = self.container_log(uid, name)
            log.parent.mkdir(parents=True, exist_ok=True)
            mounts = self._node_files() + [(str(self.volume(uid, vol)), path)
                                           for vol, path in volumes]
            stage = self.state_dir / "stage"
            stage.mkdir(exist_ok=True)
            proc = procs.start_container(
                pod.netns, argv, full_env, workdir, log, on_exit, stage, mounts
            )
            pod.containers[name] = (proc, full_env)
            pod.pgids.append(proc.pid)
            self._record_pod(uid, pod)
            return proc.pid

    def container_log(self, uid: str, name: str) -> Path:
        """The file holding the container's combined stdout and stderr."""
        return self.state_dir / "pods" / uid / f"{name}.log"

    def _node_files(self) -> list[tuple[str, str]]:
        """The node's files under /tmp that containers run or read (the lab has no images: a
        checkout or state dir under /tmp must stay visible over the private /tmp)."""
        dirs = (REPO, self.state_dir.resolve())
        return [(str(d), str(d)) for d in dirs if d.is_relative_to("/tmp")]

    def volume(self, uid: str, name: str) -> Path:
        """An emptyDir volume's directory: one per pod, kept across container restarts."""
        path = self.state_dir / "pods" / uid / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def exec(self, uid: str, container: str, argv: list[str], stdin: bool) -> subprocess.Popen:
        """Run argv in the container (its namespaces, working directory and environment) with
        binary pipes.

        Raises ExecNotFound (see its docstring for how the API server reports it), and
        ContainerNotRunning when the container's process has not started or has exited."""
        with self._lock:
            pod = self._pods[uid]
            started = pod.containers.get(container)
            if started is None or started[0].returncode is not None:
                state = "CONTAINER_EXITED" if started else "CONTAINER_CREATED"
                raise ContainerNotRunning(
                    f"failed to exec in container: container is in {state} state"
                )
            target, env = started
            proc = procs.start_exec(target.pid, argv, env, stdin)
            pod.pgids.append(proc.pid)
            return proc

    def stop_pod(self, uid: str) -> None:
        """Kill the pod's processes (their mount namespaces and /tmp go with them), delete its
        netns and emptyDir volumes, and free its IP for the next pod.

        The killing (up to a 2 s grace) happens outside the lock, so other pods are not held up.
        """
        with self._lock:
            pod = self._pods.pop(uid, None)
        if pod is None:
            return
        if pod.host_network:
            for pgid in pod.pgids:
                procs.kill_group(pgid)
            procs.wait_exit(list(pod.pgids), 2.0)  # SIGKILL is sent, not yet done, on return
        else:
            for pgid in pod.pgids:  # also a process still on its way into the netns
                procs.kill_group(pgid, signal.SIGTERM)
            state.kill_netns_processes(pod.netns)
            netns.delete_netns(pod.netns)
        with self._lock:
            if not pod.host_network:
                self._ipam[pod.node.name].release(pod.ip)
                self._state.drop_namespace(pod.netns)
            del self._state.data["pods"][uid]
            self._state.save()
        shutil.rmtree(self.state_dir / "pods" / uid / "volumes", ignore_errors=True)

    # teardown ----------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Stop every pod and remove every namespace this runtime created."""
        with self._lock:
            for uid in list(self._pods):
                self.stop_pod(uid)
            state.remove_all(self.state_dir)
            self._nodes.clear()
            self._ipam.clear()

    @staticmethod
    def cleanup_leftovers(state_dir: Path) -> list[str]:
        """After a crash: kill the processes in and delete every recorded namespace; return the
        namespaces removed."""
        return state.remove_all(state_dir)

    # helpers -----------------------------------------------------------------------------------

    def _new_netns(self, name: str) -> None:
        """Record first (a crash right after creation leaks nothing), forget it if creation fails
        so teardown never deletes a namespace that belongs to someone else."""
        self._state.add_namespace(name)
        try:
            netns.add_netns(name)
        except BaseException:
            self._state.drop_namespace(name)
            raise

    def _delete_netns(self, name: str) -> None:
        state.kill_netns_processes(name)
        netns.delete_netns(name)
        self._state.drop_namespace(name)

    def _record_pod(self, uid: str, pod: _Pod) -> None:
        self._state.data["pods"][uid] = {
            "node": pod.node.name,
            "ip": pod.ip,
            "netns": pod.netns,
            "host_network": pod.host_network,
            "pids": pod.pgids,
        }
        self._state.save()
