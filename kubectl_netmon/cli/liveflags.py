"""The flags `watch` and `capture` share (filter, limits, image, mode, outputs) and the
LiveOptions they are parsed into (kept here, light, so --help loads no engine)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import click

from kubectl_netmon.cli.kubeflags import parse_duration
from kubectl_netmon.cluster.specs import DEFAULT_IMAGE
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape


@dataclass
class LiveOptions:
    """What to capture and how (the flags watch and capture share)."""

    words: tuple[str, ...] = ()
    selector: str = ""
    whole_namespace: str | None = None  # --ns NS
    container: str = ""
    bpf_filter: str = ""
    snaplen: int = 262144
    duration_s: float | None = None
    count: int | None = None
    image: str = ""
    image_pull_secret: str = ""
    mode: str = "auto"
    node_namespace: str = ""  # where node-mode capture pods go ("": AcquireOptions' default)
    output: str = "table"
    zeek_dir: str | None = None
    quiet: bool = False
    detect: bool = True
    analyse: bool = True  # run the flow engine (off when no output shows flows or alerts)


def live_flags(command: Callable) -> Callable:
    """Add the shared capture flags to a click command; it receives `opts: LiveOptions`."""
    options = [
        click.option("-f", "--filter", "bpf", metavar="BPF", default="",
                     help="Capture filter (tcpdump syntax), e.g. 'tcp port 8080'."),
        click.option("--snaplen", type=click.IntRange(64, 262144), default=262144,
                     show_default=True, help="Bytes kept of each packet."),
        click.option("--duration", metavar="DURATION",
                 help="Stop after this long (e.g. 30s, 10h); without it: at Ctrl-C, or after "
                      "4h."),
        click.option("--count", type=click.IntRange(min=1), metavar="N",
                     help="Stop after N packets."),
        click.option("--image", metavar="IMAGE", default="",
                     help=f"Capture image with dumpcap (default: {DEFAULT_IMAGE})."),
        click.option("--image-pull-secret", metavar="NAME", default="",
                     help="Pull secret for --image. Only node-mode pods take one (an ephemeral "
                     "container pulls with its pod's secrets), so auto then picks node mode."),
        click.option("--mode", type=click.Choice(["auto", "ephemeral", "node"]), default="auto",
                     show_default=True, help="Capture in an ephemeral container next to each "
                     "pod, or on the node (hostNetwork pod); auto picks what the cluster allows."),
        click.option("--node-namespace", metavar="NS", default="",
                     help="Namespace for node-mode capture pods (default: default; they use "
                     "hostNetwork, so pick one whose Pod Security allows it)."),
        click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table",
                     show_default=True, help="Live table on a terminal, or Zeek JSON lines."),
        click.option("--zeek-dir", metavar="DIR", help="Also write Zeek logs into DIR."),
        click.option("--no-detect", is_flag=True, help="Skip the detectors (flows only)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress or status on stderr."),
    ]

    @functools.wraps(command)
    def wrapper(*args, bpf: str, snaplen: int, duration: str | None, count: int | None,
                image: str, image_pull_secret: str, mode: str, node_namespace: str, output: str,
                zeek_dir: str | None, no_detect: bool, quiet: bool, **kwargs):
        _check_filter(bpf)
        opts = LiveOptions(bpf_filter=bpf, snaplen=snaplen,
                           duration_s=_capture_duration(duration) if duration else None,
                           count=count, image=image, image_pull_secret=image_pull_secret,
                           mode=_mode_for(mode, image_pull_secret),
                           node_namespace=node_namespace, output=output, zeek_dir=zeek_dir,
                           quiet=quiet, detect=not no_detect)
        return command(*args, opts=opts, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _mode_for(mode: str, pull_secret: str) -> str:
    """The mode a pull secret allows: ephemeral containers pull with their pod's own
    imagePullSecrets, which a running pod cannot change; only node-mode pods take one."""
    if not pull_secret:
        return mode
    if mode == "ephemeral":
        raise UsageError("--image-pull-secret needs node mode: an ephemeral container pulls with "
                         "its pod's own imagePullSecrets (fixed once the pod runs); use --mode "
                         "node, or leave the flag out if the pod's secrets cover the image")
    return "node"


def _capture_duration(text: str) -> float:
    """--duration in seconds: more than 0 (no --duration captures until Ctrl-C)."""
    seconds = parse_duration(text, "--duration")
    if seconds <= 0:
        raise UsageError(f"--duration {escape(text)}: must be more than 0; leave it out to "
                         "capture until Ctrl-C")
    return seconds


def _check_filter(bpf: str) -> None:
    """A filter that is no filter at all is refused before anything is created in the cluster
    (the local libpcap says so; without it, the remote dumpcap will)."""
    if not bpf:
        return
    from kubectl_netmon.capture.bpf import syntax_error

    problem = syntax_error(bpf)
    if problem:
        raise UsageError(f"-f {escape(bpf)}: not a capture filter ({escape(problem)}); write it "
                         "as for tcpdump, e.g. 'tcp port 8080' (see man pcap-filter)")
