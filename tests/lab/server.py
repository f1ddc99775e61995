"""The lab process: `python3 -m tests.lab.server --state-dir DIR --nodes N [--scenario NAME]`.

Creates the CA, tokens and DIR/kubeconfig, starts the API server on 127.0.0.1:<free port>,
writes DIR/server.json (pid, port, url, netns prefix) once it serves, and runs until SIGTERM or
SIGINT; then stops every pod and removes the nodes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from tests.lab import scenarios
from tests.lab.apiserver.cluster import LabCluster
from tests.lab.runtime import Runtime


def main(argv: list[str] | None = None) -> int:
    """Run the lab until signalled; exit status 0 after a clean stop."""
    parser = argparse.ArgumentParser(prog="python3 -m tests.lab.server")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--scenario", default=None)
    parser.add_argument(
        "--prefix",
        default=None,
        help="name prefix of network namespaces (default: one per state dir)",
    )
    args = parser.parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    prefix = args.prefix or "l" + hashlib.sha1(str(args.state_dir).encode()).hexdigest()[:6]
    args.state_dir.mkdir(parents=True, exist_ok=True)
    running = _running_pid(args.state_dir)
    if running:
        print(
            f"lab server: a lab already runs with {args.state_dir} (pid {running})", file=sys.stderr
        )
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Runtime.cleanup_leftovers(args.state_dir)
    runtime = Runtime(args.state_dir, prefix)
    try:
        cluster = LabCluster(args.state_dir, runtime, args.nodes)
        cluster.start()
        if args.scenario:
            cluster.apply_manifests(scenarios.load(args.scenario))
        info = {"pid": os.getpid(), "port": cluster.port, "url": cluster.url, "prefix": prefix}
        tmp = args.state_dir / "server.json.tmp"
        tmp.write_text(json.dumps(info))
        tmp.replace(args.state_dir / "server.json")
        stop.wait()
        cluster.stop()
    except Exception as e:  # the lab's own edge: one line, not a traceback
        print(f"lab server: {e}", file=sys.stderr)
        return 1
    finally:
        runtime.teardown()
        (args.state_dir / "server.json").unlink(missing_ok=True)
    return 0


def _running_pid(state_dir: Path) -> int | None:
    """The pid in server.json when that process is still alive (so its nodes are not ours)."""
    try:
        pid = json.loads((state_dir / "server.json").read_text())["pid"]
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError):
        return None
    return pid


if __name__ == "__main__":
    sys.exit(main())
