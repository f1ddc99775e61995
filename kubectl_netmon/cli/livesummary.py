"""The end-of-run summary of watch and capture, on stderr: how streams ended, warnings, counts."""

from __future__ import annotations

import click

from kubectl_netmon.cli.liverun import LiveResult
from kubectl_netmon.errors import ClusterError


def print_summary(result: LiveResult, quiet: bool) -> None:
    """Stream endings and decode/engine warnings (always), then the counts (unless -q); a
    stream that dropped or a capture that failed fails the command, after the summary of what
    was kept (the other captures ran on)."""
    failed = [line for line in result.streams if ": capture failed" in line]
    for line in [s for s in result.streams if s not in failed] + result.decode.summary() \
            + result.run.warnings:
        if not quiet or "dropped" in line or "failed" in line:
            click.echo(f"warning: {line}" if "dropped" in line or "failed" in line else line,
                       err=True)
    s = result.status
    if not quiet:
        click.echo(f"{s.packets} packets ({s.duplicates} duplicates dropped, {s.drops} lost by "
                   "the capture), "
                   f"{result.run.flows} flows, {result.run.notices} alerts, "
                   f"{int(s.elapsed_s)}s", err=True)
    if result.dropped or failed:
        raise ClusterError("; ".join(result.dropped + failed)
                           + "; the packets received before are kept")
