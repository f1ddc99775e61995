"""`kubectl netmon capture (--ns NS | -l SELECTOR | POD...) -w FILE.pcapng`: one pcapng of every
target across nodes, with pod names in it (output.recording); `-w -` streams it to stdout, e.g.
into `wireshark -k -i -`.

When something shows them, the capture also runs through the flow engine and detectors:
alerts and a status line on stderr (terminals), Zeek JSON lines on stdout with -o json, Zeek
logs with --zeek-dir; otherwise packets are only decoded (counted) on their way to the file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys

import click

from kubectl_netmon.cli.kubeflags import KubeFlags, kube_flags
from kubectl_netmon.cli.liveflags import LiveOptions, live_flags
from kubectl_netmon.cli.main import cli
from kubectl_netmon.cli.zeekdir import ready_zeek_dir
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape

WRITE_BUFFER = 1 << 16  # the -w file's buffer: below the recording's batches on a fast stream

@cli.command()
@click.argument("pods", nargs=-1, metavar="[POD...]")
@click.option("--ns", "whole_ns", metavar="NS", help="Capture every running pod of NS.")
@click.option("-l", "--selector", default="", metavar="SELECTOR",
              help="Capture the pods matching this label selector.")
@click.option("-w", "--write", "path", required=True, metavar="FILE",
              help="The pcapng to write; - for stdout.")
@live_flags
@kube_flags
def capture(pods: tuple[str, ...], whole_ns: str | None, selector: str, path: str,
            opts: LiveOptions, kube: KubeFlags) -> None:
    """Record the targets' traffic into one pcapng with pod names (Wireshark shows them)."""
    opts.words, opts.selector, opts.whole_namespace = pods, selector, whole_ns
    if path == "-" and opts.output == "json":
        raise UsageError("-o json writes to stdout, and so does -w -; write the pcapng to a file")
    check_writable(path)
    ready_zeek_dir(opts.zeek_dir)
    run_capture(kube, opts, path, sys.stderr.isatty())


def check_writable(path: str) -> None:
    """Refuse a -w FILE that cannot be written before anything is created in the cluster (an
    ephemeral container can never be removed). The file itself is made once the capture runs;
    a FIFO or device is left to that open (opening it now would wake its reader)."""
    if path == "-":
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise _cannot_write(path, e) from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666))
    except OSError as e:
        raise _cannot_write(path, e) from None
    if mode is None:
        os.unlink(path)


def _cannot_write(path: str, e: OSError) -> UsageError:
    return UsageError(f"-w {escape(path)}: cannot write it ({escape(e.strerror or str(e))})")


def run_capture(kube: KubeFlags, opts: LiveOptions, path: str, tty: bool) -> None:
    """Record, with the chosen outputs alongside; the summary on stderr."""
    from kubectl_netmon.cli.liverun import LiveRun, stderr_status
    from kubectl_netmon.cli.livesummary import print_summary
    from kubectl_netmon.output.live import StatusLine
    from kubectl_netmon.output.recording import Recording
    from kubectl_netmon.output.writers import JsonLinesWriter, ZeekDirWriter

    status_line = tty and not opts.quiet and opts.output != "json"
    # Flows and alerts cost most of the time per packet: only when something shows them.
    opts.analyse = bool(opts.zeek_dir or opts.output == "json" or status_line)
    live = LiveRun(kube, opts, stderr_status(opts.quiet), echo_while_running=not status_line)
    ticks: list = []
    with contextlib.ExitStack() as files:
        def outputs(pods) -> list:
            """Called once the capture runs: only then is the file created."""
            out = files.enter_context(_open_output(path))
            outs: list = [ZeekDirWriter(opts.zeek_dir, pods)] if opts.zeek_dir else []
            if opts.output == "json":
                outs.append(JsonLinesWriter(sys.stdout, pods))
            elif status_line:
                status = StatusLine(sys.stderr, live.status, pods)
                outs.append(status)
                ticks.append(status.refresh)
            live.tap = lambda merged: _recording(
                Recording(merged, out, pods, f"-w {path}"), ticks)
            return outs

        live.on_tick = lambda: [tick() for tick in ticks]
        print_summary(live.run(outputs), opts.quiet)


def _recording(recording, ticks: list):
    ticks.append(recording.flush)
    return recording


@contextlib.contextmanager
def _open_output(path: str):
    """The pcapng's file, written by a thread of its own (output.filethread)."""
    if path == "-":
        with _threaded(sys.stdout.buffer, path) as out:
            yield out
        return
    try:
        # For the Python writer (no C extension): the recording hands over a batch of blocks at
        # a time (~100 KiB on a fast stream); a write larger than the buffer goes to the file as
        # it is, the buffer gathers the small ones (interface and name blocks, a quiet stream's
        # packets). The compiled writer writes on the descriptor, each hand-over as it is.
        f = open(path, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115 - closed below
    except OSError as e:
        raise _cannot_write(path, e) from None
    with f, _threaded(f, path) as out:
        yield out


@contextlib.contextmanager
def _threaded(file, path: str):
    """`file` written by a thread; closing it writes what is left (its failure an OutputError,
    as the recording's own)."""
    from kubectl_netmon.output.filethread import threaded
    from kubectl_netmon.output.recording import write_failure

    out = threaded(file)
    try:
        yield out
    finally:
        try:
            out.close()
        except OSError as e:
            raise write_failure(f"-w {path}", e) from None
