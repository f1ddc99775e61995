"""Pure builders for what netmon puts into a cluster: specs in, dicts and argv out, no API calls.

Everything netmon starts must stop by itself (ephemeral containers can never be removed, exec'd
processes get no signal when the client goes away), so each builder carries its own bound:
the containers run a heartbeat loop that exits when no capture touched the heartbeat file for
`linger_s` seconds, and the capture command stops dumpcap when its stdin (held open by the
client) reaches EOF, and after a hard duration limit enforced by dumpcap itself.
"""

from __future__ import annotations

import secrets

# The capture image: public, with dumpcap, pinned to a tag so every run gets the same tools
# (--image for a mirror or another pin).
DEFAULT_IMAGE = "nicolaka/netshoot:v0.13"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kubectl-netmon"
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"
CONTAINER_PREFIX = "netmon-"
CAPABILITIES = ["NET_ADMIN", "NET_RAW"]
HEARTBEAT_STEP_S = 3  # the container checks the heartbeat this often; captures beat every second

# The container's own command: keep running while a capture beats, exit `linger` seconds after
# the last beat. $1 heartbeat file, $2 linger seconds. POSIX sh (dash, busybox ash).
LINGER_SCRIPT = f"""hb="$1"; linger="$2"; idle=0
: > "$hb"
while [ "$idle" -lt "$linger" ]; do
  sleep {HEARTBEAT_STEP_S}
  if [ -e "$hb" ]; then rm -f "$hb"; idle=0; else idle=$((idle + {HEARTBEAT_STEP_S})); fi
done
rm -f "$hb"
"""

# The exec'd capture: $1 heartbeat file, then dumpcap's argv. dumpcap runs in the background
# with pcapng on our stdout; a reader of the original stdin (fd 3; background jobs get
# /dev/null) stops it on EOF, i.e. when the client closes stdin or its connection goes away.
# Helpers hold neither stdout nor stderr, so the session ends as soon as dumpcap does. A
# SIGTERM that lands before dumpcap handles it (a stop right at start) still counts as a stop.
CAPTURE_SCRIPT = """hb="$1"; shift
exec 3<&0 </dev/null
"$@" & cap=$!
while kill -0 "$cap" 2>/dev/null; do : > "$hb"; sleep 1; done >/dev/null 2>&1 &
{ while read -r _; do :; done; kill "$cap" 2>/dev/null; } <&3 >/dev/null 2>&1 & eof=$!
exec 3<&-
wait "$cap"; rc=$?
kill "$eof" 2>/dev/null
[ "$rc" -eq 143 ] && rc=0
exit "$rc"
"""


def new_name(prefix: str, max_len: int = 63) -> str:
    """A DNS-1123 label: the prefix trimmed to fit, a dash, five random hex digits."""
    suffix = secrets.token_hex(3)[:5]
    head = prefix[: max_len - len(suffix) - 1].rstrip("-.")
    return f"{head}-{suffix}"


def heartbeat_path(container: str) -> str:
    """Where a container and its captures share the heartbeat (unique per container name)."""
    return f"/tmp/{container}.heartbeat"


def linger_command(container: str, linger_s: int) -> list[str]:
    """The self-terminating command of a netmon container (ephemeral or node pod)."""
    return ["sh", "-c", LINGER_SCRIPT, "netmon-linger", heartbeat_path(container), str(linger_s)]


def dumpcap_argv(interface: str, bpf_filter: str, snaplen: int, limit_s: int,
                 count: int | None) -> list[str]:
    """dumpcap writing pcapng to stdout for at most limit_s seconds. On `any` the link type is
    pinned to Linux cooked v1, which every Wireshark reads."""
    argv = ["dumpcap", "-i", interface, "-s", str(snaplen), "-n", "-w", "-",
            "-a", f"duration:{limit_s}"]
    if interface == "any":
        argv += ["-y", "LINUX_SLL"]
    if count:
        argv += ["-c", str(count)]
    if bpf_filter:
        argv += ["-f", bpf_filter]
    return argv


def capture_command(container: str, dumpcap: list[str]) -> list[str]:
    """The exec argv: the watchdog script around dumpcap, arguments passed as positional
    parameters so no user text is ever parsed by the shell."""
    return ["sh", "-c", CAPTURE_SCRIPT, "netmon-capture", heartbeat_path(container), *dumpcap]


def hosts_filter(ips: list[str], bpf_filter: str = "") -> str:
    """A BPF filter keeping the given pods' traffic (a node capture shared by several pods)."""
    hosts = " or ".join(f"host {ip}" for ip in sorted(ips))
    if len(ips) > 1:
        hosts = f"({hosts})"
    if not bpf_filter:
        return hosts
    return f"{hosts} and ({bpf_filter})" if hosts else bpf_filter


def ephemeral_container(name: str, image: str, linger_s: int, target: str = "") -> dict:
    """The ephemeral container: NET_RAW/NET_ADMIN only (not privileged), self-terminating;
    with `target` (-c) it joins that container's namespaces, as `kubectl debug --target` does."""
    container = {
        "name": name,
        "image": image,
        "command": linger_command(name, linger_s),
        "terminationMessagePolicy": "File",
        "securityContext": {"capabilities": {"add": list(CAPABILITIES)}},
    }
    if target:
        container["targetContainerName"] = target
    return container


def node_pod(name: str, node: str, image: str, linger_s: int, deadline_s: int,
             pull_secret: str = "") -> dict:
    """A capture pod pinned to `node` on the host network, tolerating every taint, with
    activeDeadlineSeconds as a dead-man switch and the netmon label for `cleanup`. Its one
    container has the pod's name (which keys the heartbeat file)."""
    spec: dict = {
        "nodeName": node,
        "hostNetwork": True,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": deadline_s,
        "terminationGracePeriodSeconds": 1,
        "tolerations": [{"operator": "Exists"}],
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [{
            "name": name,
            "image": image,
            "command": linger_command(name, linger_s),
            "securityContext": {"capabilities": {"add": list(CAPABILITIES)}},
        }],
    }
    if pull_secret:
        spec["imagePullSecrets"] = [{"name": pull_secret}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {MANAGED_BY: MANAGER,
                                               "app.kubernetes.io/name": "netmon-capture"}},
        "spec": spec,
    }
