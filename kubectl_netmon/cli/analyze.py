"""`kubectl-netmon analyze FILE`: flows with pod names and Log4Shell alerts from a capture file.

Options -> validate -> run. The engine, detectors and pyshark are imported when the command runs,
so `--help` and the other commands start fast.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import click

from kubectl_netmon.cli.main import cli
from kubectl_netmon.cli.zeekdir import ready_zeek_dir
from kubectl_netmon.errors import CaptureError, UsageError
from kubectl_netmon.output.escape import escape

# Wireshark dissector names for the services our parsers name, for tshark's decode-as.
_DISSECTORS = {"http": "http", "dns": "dns", "ssl": "tls", "ldap": "ldap"}


@dataclass
class AnalyzeOptions:
    """What the user asked for, checked by validate() before anything is read."""

    capture: str
    output: str = "table"
    zeek_dir: str | None = None
    pods_json: str | None = None
    inspect: str | None = None
    max_flows: int | None = None
    top: int = 20
    detect: bool = True
    decode_as: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.decode_as and self.inspect is None:
            raise UsageError("--decode-as only applies to --inspect UID")
        if self.inspect is not None and self.capture == "-":
            raise UsageError("--inspect needs a capture file, not stdin: tshark reads the file "
                             "again to dissect the flow")


@cli.command()
@click.argument("capture", metavar="FILE")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A terminal table, or Zeek JSON lines (_path conn/notice/"
              "http/dns).")
@click.option("--zeek-dir", metavar="DIR", help="Also write conn.log, notice.log, http.log and "
              "dns.log (Zeek JSON) into DIR.")
@click.option("--pods-json", metavar="FILE", help="Name pods: the output of "
              "`kubectl get pods -A -o json`.")
@click.option("--inspect", metavar="UID", help="Print Wireshark's full dissection of that flow's "
              "packets (needs tshark).")
@click.option("--decode-as", multiple=True, metavar="HINT", help="With --inspect: tshark's "
              "decode-as, e.g. tcp.port==1389,ldap (LDAP callbacks on unusual ports).")
@click.option("--max-flows", type=click.IntRange(min=1), metavar="N",
              help="Track at most N open connections; the oldest idle ones are finished early.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, metavar="N",
              help="Flows shown in the table.")
@click.option("--no-detect", is_flag=True, help="Skip the detectors (flows only).")
def analyze(capture: str, output: str, zeek_dir: str | None, pods_json: str | None,
            inspect: str | None, decode_as: tuple[str, ...], max_flows: int | None, top: int,
            no_detect: bool) -> None:
    """Read a pcap or pcapng FILE (gzipped too; - for stdin): flows busiest first, with pod names,
    and alerts."""
    opts = AnalyzeOptions(capture, output, zeek_dir, pods_json, inspect, max_flows, top,
                          not no_detect, decode_as)
    opts.validate()
    if opts.inspect is not None:
        run_inspect(opts)
    else:
        run_analyze(opts)


def run_analyze(opts: AnalyzeOptions) -> None:
    """Stream the capture through the pipeline into the chosen outputs; summary on stderr."""
    from kubectl_netmon import pipeline
    from kubectl_netmon.capture.decode import DecodeStats, packets
    from kubectl_netmon.capture.reader import open_capture
    from kubectl_netmon.enrich.pods_json import load_pods_json
    from kubectl_netmon.output.table import TableCollector
    from kubectl_netmon.output.writers import JsonLinesWriter, ZeekDirWriter

    pods = load_pods_json(opts.pods_json) if opts.pods_json else None
    ready_zeek_dir(opts.zeek_dir)
    # Few cyclic collections: the per-packet and per-flow objects have no cycles (about 15%).
    with pipeline.few_collections(), open_capture(opts.capture) as reader:
        stats = DecodeStats()
        decoded = packets(reader, stats)
        if pods is None:
            decoded, pods = _names_in_capture(reader, decoded)
        outputs: list = [ZeekDirWriter(opts.zeek_dir, pods)] if opts.zeek_dir else []
        table = TableCollector(pods, opts.top) if opts.output == "table" else None
        # stdin may be a live capture (`dumpcap -w - | ...`): its records go out as they end
        outputs.append(table or JsonLinesWriter(sys.stdout, pods, live=opts.capture == "-"))
        result = pipeline.run(decoded, outputs, _detectors(opts), _flow_config(opts))
        damage, notes = reader.damage, reader.notes
    if damage is not None and stats.packets == 0:
        raise CaptureError(str(damage))
    if table is not None:
        click.echo(table.render())
    for line in notes + ([str(damage)] if damage else []) + stats.summary() + result.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(f"{stats.packets} packets, {result.flows} flows, {result.notices} alerts", err=True)


def _names_in_capture(reader, decoded):
    """The pod context a `kubectl netmon capture` file carries (its section header, read before
    the first packet, says netmon wrote it): a PodMap that grows as the file is read, or None;
    the packets are all still to be read."""
    from kubectl_netmon.capture.pcapng import PcapngReader
    from kubectl_netmon.enrich.capture_names import RecordedPods, written_by_netmon

    first = next(decoded, None)
    rest = decoded if first is None else itertools.chain([first], decoded)
    if not (isinstance(reader, PcapngReader)
            and any(written_by_netmon(s.userappl) for s in reader.sections)):
        return rest, None
    return rest, RecordedPods(reader.sections)


def run_inspect(opts: AnalyzeOptions) -> None:
    """Find the flow by UID, then print tshark's dissection of its packets."""
    from kubectl_netmon import pipeline
    from kubectl_netmon.capture.decode import DecodeStats, packets
    from kubectl_netmon.capture.reader import open_capture
    from kubectl_netmon.inspect import dissect_conn

    with open_capture(opts.capture) as reader:
        conn = pipeline.find_conn(packets(reader, DecodeStats()), opts.inspect, _flow_config(opts))
    if conn is None:
        raise UsageError(f"no flow with UID {escape(opts.inspect)} in {escape(opts.capture)}; "
                         "run analyze without --inspect to list the flows and their UIDs")
    hints = list(opts.decode_as)
    dissector = _DISSECTORS.get(conn.service)
    if dissector:
        hints.append(f"{conn.proto}.port=={conn.resp_p},{dissector}")
    for text in dissect_conn(opts.capture, conn.orig_h, conn.orig_p, conn.resp_h, conn.resp_p,
                             conn.proto, decode_as=hints):
        click.echo(text + "\n")


def _detectors(opts: AnalyzeOptions) -> list:
    if not opts.detect:
        return []
    from kubectl_netmon.detect.registry import default_detectors
    return default_detectors()


def _flow_config(opts: AnalyzeOptions):
    from kubectl_netmon.capture.flows import FlowConfig
    return FlowConfig() if opts.max_flows is None else FlowConfig(max_flows=opts.max_flows)
