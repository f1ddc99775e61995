"""`kubectl-netmon zeek-table -w FILE [--watch] [--script ZEEK]`: the IP-to-pod table for Zeek.

Options -> validate -> run. The table is written from one list of pods and nodes; --watch then
keeps it current, replacing the file atomically whenever who holds an address changes, until
interrupted. --script writes the Zeek script that reads the table (see zeeklog/script.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import click

from kubectl_netmon.cli.kubeflags import KubeFlags, kube_flags
from kubectl_netmon.cli.main import cli
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape


@dataclass
class ZeekTableOptions:
    """What the user asked for, checked by validate() before the cluster is asked."""

    table: str
    script: str | None = None
    watch: bool = False
    kube: KubeFlags = field(default_factory=KubeFlags)

    def validate(self) -> None:
        if self.table == "-":
            raise UsageError("-w needs a file: Zeek rereads the table from its path")
        if self.script is not None and os.path.abspath(self.script) == os.path.abspath(
                self.table):
            raise UsageError("--script and -w name the same file")


@cli.command("zeek-table")
@click.option("-w", "--write", "table", metavar="FILE", required=True,
              help="The table file (Zeek Input Framework TSV: ip, ns, name, node, node_ip).")
@click.option("--watch", is_flag=True, help="Keep the table current as pods come and go "
              "(until interrupted); each change replaces FILE atomically.")
@click.option("--script", metavar="ZEEK", help="Also write a Zeek script that loads FILE "
              "(reread on change) and adds orig_pod.* and resp_pod.* to conn.log.")
@kube_flags
def zeek_table(table: str, watch: bool, script: str | None, kube: KubeFlags) -> None:
    """Write the cluster's IP-to-pod table for Zeek's Input Framework."""
    opts = ZeekTableOptions(table, script, watch, kube)
    opts.validate()
    run_zeek_table(opts)


def run_zeek_table(opts: ZeekTableOptions) -> None:
    """List, write the table (and script), then follow the cluster when --watch."""
    from kubectl_netmon.cluster.podsource import PodSource
    from kubectl_netmon.zeeklog.files import replace_atomically
    from kubectl_netmon.zeeklog.script import zeek_script

    cluster = opts.kube.connect()
    source = PodSource(cluster.client, namespaces=[cluster.namespace])
    source.sync()
    for limit in source.limits:
        click.echo(f"zeek-table: {limit}", err=True)
    writer = TableWriter(opts.table, source)
    writer.update()
    if opts.script is not None:
        replace_atomically(opts.script, zeek_script(os.path.abspath(opts.table)).encode())
        click.echo(f"zeek-table: wrote {escape(opts.script)}; run zeek with it to get "
                   "orig_pod.* and resp_pod.* in conn.log", err=True)
    if opts.watch:
        click.echo("zeek-table: watching pods and nodes (Ctrl-C to stop)", err=True)
        source.run(writer.update)


class TableWriter:
    """Rewrites the table file when its content changes, saying so on stderr (an unchanged file
    keeps its inode, so Zeek does not reread it for nothing)."""

    def __init__(self, path: str, source) -> None:
        self._path, self._source = path, source
        self._last = b""

    def update(self) -> None:
        from kubectl_netmon.zeeklog.files import replace_atomically
        from kubectl_netmon.zeeklog.table import render_table

        holders = self._source.current()
        data = render_table(holders)
        if data != self._last:
            replace_atomically(self._path, data)
            self._last = data
            click.echo(f"zeek-table: {len(holders)} addresses in {escape(self._path)}",
                       err=True)
