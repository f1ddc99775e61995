"""`kubectl-netmon enrich LOG...`: add pod context to existing Zeek logs, keeping their format.

Options -> validate -> run. Pods come from the live cluster (one list of pods and nodes) or from a
`--pods-json` snapshot; the summary goes to stderr so stdout can carry the enriched log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import TYPE_CHECKING

import click

from kubectl_netmon.cli.kubeflags import KubeFlags, kube_flags
from kubectl_netmon.cli.main import cli
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape

if TYPE_CHECKING:
    from kubectl_netmon.enrich.podmap import PodMap
    from kubectl_netmon.zeeklog.enrich import EnrichStats


@dataclass
class EnrichOptions:
    """What the user asked for, checked by validate() before anything is read."""

    logs: tuple[str, ...]
    output_dir: str | None = None
    pods_json: str | None = None
    kube: KubeFlags = field(default_factory=KubeFlags)

    def validate(self) -> None:
        if self.output_dir is None and len(self.logs) > 1:
            raise UsageError("several logs need --output-dir DIR (stdout takes one log)")
        if self.pods_json and (self.kube.kubeconfig or self.kube.context):
            raise UsageError("--pods-json and --kubeconfig/--context exclude each other: "
                             "pods come from the snapshot or from the cluster")
        if self.output_dir is not None and "-" in self.logs:
            raise UsageError("stdin (-) has no file name to write under --output-dir")

    def destination(self, log: str) -> str:
        """Where the enriched copy of log goes ("-": stdout)."""
        if self.output_dir is None:
            return "-"
        out = os.path.join(self.output_dir, os.path.basename(log))
        if os.path.exists(out) and os.path.samefile(out, log):
            raise UsageError(f"--output-dir {escape(self.output_dir)} holds {escape(log)} "
                             "itself: choose another directory so the input is kept")
        return out


@cli.command()
@click.argument("logs", metavar="LOG...", nargs=-1, required=True)
@click.option("-d", "--output-dir", metavar="DIR", help="Write each enriched LOG into DIR "
              "under its own name (gzip stays gzip). Default: the one LOG to stdout.")
@click.option("--pods-json", metavar="FILE", help="Pods from a snapshot (the output of "
              "`kubectl get pods -A -o json`) instead of the live cluster.")
@kube_flags
def enrich(logs: tuple[str, ...], output_dir: str | None, pods_json: str | None,
           kube: KubeFlags) -> None:
    """Add orig_pod.* and resp_pod.* to Zeek logs (JSON or TSV, gzip too; - for stdin)."""
    opts = EnrichOptions(logs, output_dir, pods_json, kube)
    opts.validate()
    run_enrich(opts)


def run_enrich(opts: EnrichOptions) -> None:
    """Load the pods, stream every log through the enricher, then print the summary."""
    from kubectl_netmon.zeeklog.enrich import EnrichStats, enrich_lines
    from kubectl_netmon.zeeklog.files import LogInput, open_output

    pods = _load_pods(opts)
    if opts.output_dir is not None:
        _make_dir(opts.output_dir)
    stats = EnrichStats()
    for log in opts.logs:
        source = LogInput(log)
        enriched = enrich_lines(source.lines(), pods, stats, name=log)
        head = list(islice(enriched, 1))  # the format is checked before a file is made
        with open_output(opts.destination(log), source.gzipped) as out:
            out.writelines(chain(head, enriched))
    for line in summary(stats):
        click.echo(line, err=True)


def summary(stats: EnrichStats) -> list[str]:
    """One line of counts, and one per kind of record left as it was."""
    lines = [f"enrich: {stats.records} records, {stats.enriched} with pod context"]
    if stats.early:
        lines.append(f"enrich: {stats.early} records left without pod context for an address "
                     "whose known history starts after the record's time (not guessed)")
    if stats.unreadable:
        lines.append(f"enrich: {stats.unreadable} lines without a readable ts, id.orig_h and "
                     "id.resp_h passed through unchanged")
    return lines


def _load_pods(opts: EnrichOptions) -> PodMap:
    if opts.pods_json:
        from kubectl_netmon.enrich.pods_json import load_pods_json
        return load_pods_json(opts.pods_json)
    from kubectl_netmon.cluster.podsource import PodSource
    cluster = opts.kube.connect()
    source = PodSource(cluster.client, namespaces=[cluster.namespace])
    pods = source.sync()
    for limit in source.limits:
        click.echo(f"enrich: {limit}", err=True)
    return pods


def _make_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--output-dir {escape(path)}: cannot create it "
                         f"({escape(e.strerror or str(e))})") from None
