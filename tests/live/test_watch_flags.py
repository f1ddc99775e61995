"""The command line of watch and capture without a cluster: kubectl's duration syntax, and
usage and configuration mistakes reported in one line with the right exit status."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from kubectl_netmon.cli.kubeflags import after_command, parse_duration
from kubectl_netmon.cluster.specs import DEFAULT_IMAGE
from kubectl_netmon.errors import UsageError
from tests.live.fixtures import REPO


def netmon(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubectl_netmon", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env})


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("500ms", 0.5),
                                               ("2h", 7200), ("45", 45), ("0", 0)])
def test_durations_are_read_as_kubectl_writes_them(text, seconds):
    assert parse_duration(text, "--duration") == seconds


@pytest.mark.parametrize("text", ["soon", "5 s", "1d", "s30", ""])
def test_a_bad_duration_names_the_flag_and_the_syntax(text):
    with pytest.raises(UsageError, match="--duration .*e.g. 30s"):
        parse_duration(text, "--duration")


@pytest.mark.parametrize(("argv", "expected"), [
    (["-n", "shop", "watch", "pod", "web"], ["watch", "-n", "shop", "pod", "web"]),
    (["--context=prod", "-nshop", "capture", "--ns", "shop"],
     ["capture", "--context=prod", "-nshop", "--ns", "shop"]),
    (["--kubeconfig", "k", "--request-timeout", "5s", "watch", "node", "n1"],
     ["watch", "--kubeconfig", "k", "--request-timeout", "5s", "node", "n1"]),
    (["watch", "pod", "web", "-n", "shop"], ["watch", "pod", "web", "-n", "shop"]),
    (["--help"], ["--help"]),
])
def test_global_flags_before_the_command_move_after_it(argv, expected):
    assert after_command(argv) == expected


def test_watch_without_a_target_is_a_usage_error_before_any_cluster_access():
    run = netmon("watch", KUBECONFIG="/nonexistent", HOME="/nonexistent")

    assert run.returncode == 2
    assert run.stderr.startswith("error: nothing to capture") and "Traceback" not in run.stderr


def test_capture_refuses_json_and_pcapng_both_on_stdout():
    run = netmon("capture", "web", "-w", "-", "-o", "json")

    assert run.returncode == 2 and "-o json writes to stdout" in run.stderr


def test_without_any_kubeconfig_the_error_says_how_to_give_one():
    run = netmon("watch", "pod", "web", KUBECONFIG="/nonexistent", HOME="/nonexistent")

    assert run.returncode == 1
    assert "no kubeconfig found" in run.stderr and "Traceback" not in run.stderr


def test_a_missing_kubeconfig_file_flag_is_named_and_no_file_is_written(tmp_path):
    out = tmp_path / "x.pcapng"
    run = netmon("capture", "web", "-w", str(out), "--kubeconfig", "/nonexistent/config")

    assert run.returncode == 1 and "--kubeconfig /nonexistent/config" in run.stderr
    assert not out.exists()


@pytest.fixture
def silent_api_server(tmp_path):
    """A kubeconfig whose API server accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = tmp_path / "config"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "silent",
        "clusters": [{"name": "silent", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                    "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "u"}}]}))
    yield config
    listener.close()


def test_request_timeout_bounds_each_api_request(silent_api_server):
    """Without the bound the first request would wait forever (kubectl's default too)."""
    run = netmon("watch", "pod", "web", "--request-timeout", "1s",
                 KUBECONFIG=str(silent_api_server))

    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "timed out" in run.stderr and len(run.stderr.splitlines()) == 1


def test_a_default_image_is_pinned_to_a_tag():
    name, _, tag = DEFAULT_IMAGE.rpartition(":")
    assert name and tag and tag != "latest" and "/" not in tag
    assert DEFAULT_IMAGE in netmon("watch", "--help").stdout.replace("\n", " ").replace("  ", "")
