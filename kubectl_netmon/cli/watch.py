"""`kubectl netmon watch TARGET`: the live view of a pod's, node's or workload's flows with pod
names on both ends, and Log4Shell alerts as they happen.

On a terminal with -o table: the live table (output.live). Otherwise Zeek JSON lines on stdout,
as `analyze -o json` writes them. Progress and the summary go to stderr (-q: only errors).
"""

from __future__ import annotations

import sys

import click

from kubectl_netmon.cli.kubeflags import KubeFlags, kube_flags
from kubectl_netmon.cli.liveflags import LiveOptions, live_flags
from kubectl_netmon.cli.main import cli
from kubectl_netmon.cli.zeekdir import ready_zeek_dir


@cli.command()
@click.argument("target", nargs=-1, metavar="TARGET...")
@click.option("-l", "--selector", default="", metavar="SELECTOR",
              help="Watch the pods matching this label selector.")
@click.option("-c", "--container", default="", metavar="NAME",
              help="The container of the pod (for pods with several).")
@live_flags
@kube_flags
def watch(target: tuple[str, ...], selector: str, container: str, opts: LiveOptions,
          kube: KubeFlags) -> None:
    """Live flows and alerts: pod NAME, node NAME, deploy/NAME, sts/NAME, ds/NAME or -l."""
    opts.words, opts.selector, opts.container = target, selector, container
    ready_zeek_dir(opts.zeek_dir)
    run_watch(kube, opts, sys.stdout.isatty())


def run_watch(kube: KubeFlags, opts: LiveOptions, tty: bool) -> None:
    """Build the outputs (live view or JSON lines, Zeek logs), run, print the summary."""
    from kubectl_netmon.cli.liverun import LiveRun, stderr_status
    from kubectl_netmon.cli.livesummary import print_summary
    from kubectl_netmon.output.live import LiveView
    from kubectl_netmon.output.writers import JsonLinesWriter, ZeekDirWriter

    view = tty and opts.output == "table"
    live = LiveRun(kube, opts, stderr_status(opts.quiet), echo_while_running=not view)

    def outputs(pods) -> list:
        outs: list = [ZeekDirWriter(opts.zeek_dir, pods)] if opts.zeek_dir else []
        if view:
            live_view = LiveView(sys.stdout, pods, live.active, live.status)
            live.on_tick = live_view.refresh
            outs.append(live_view)
        else:
            outs.append(JsonLinesWriter(sys.stdout, pods))
        return outs

    print_summary(live.run(outputs), opts.quiet)
