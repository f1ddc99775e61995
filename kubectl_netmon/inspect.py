"""Wireshark's dissection of one connection's packets, for `analyze FILE --inspect UID`.

pyshark (tshark underneath) selects the conversation with a display filter and dissects it;
this module only turns that into escaped text. pyshark is imported inside the function so the
capture hot path never loads it.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone

from kubectl_netmon.errors import CaptureError, NetmonError, UsageError
from kubectl_netmon.output.escape import escape

_DECODE_AS = re.compile(r"((?:tcp|udp|sctp)\.port==\d{1,5}(?:-\d{1,5})?),([a-z0-9_.-]+)")
_LAST_ERROR = re.compile(r"Last error line: (?:tshark: )?(.*)")
_TSHARK_HELP = "install Wireshark's tshark (Debian: apt-get install tshark) to use --inspect"


def dissect_conn(path: str, orig_h: str, orig_p: int, resp_h: str, resp_p: int, proto: str,
                 decode_as: list[str] | None = None) -> Iterator[str]:
    """Yield each packet of the conversation (both directions) as Wireshark's dissection text.

    decode_as takes tshark's own syntax, e.g. "tcp.port==1389,ldap", for protocols on ports
    Wireshark does not expect them on. Every line is already escaped for a terminal.
    """
    import pyshark
    from pyshark.capture.capture import TSharkCrashException
    from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

    display_filter = conversation_filter(orig_h, orig_p, resp_h, resp_p, proto)
    hints = _decode_as(decode_as or [])
    try:
        tshark = get_process_path()
    except TSharkNotFoundException as e:
        raise NetmonError(f"tshark not found: {_TSHARK_HELP}") from e
    names = _protocol_names(tshark)
    try:
        capture = pyshark.FileCapture(path, display_filter=display_filter, decode_as=hints or None,
                                      keep_packets=False, tshark_path=tshark)
    except FileNotFoundError as e:
        raise CaptureError(f"cannot read {escape(path)}: no such file") from e
    count = 0
    crash = None
    try:
        for packet in capture:
            count += 1
            yield _packet_text(packet, names)
    except TSharkCrashException as e:
        crash = e
    finally:
        crash = _close(capture, TSharkCrashException) or crash
    if crash is not None:
        raise CaptureError(f"tshark failed to read {escape(path)}: "
                           f"{escape(_last_error(crash))}") from crash
    if count == 0:
        raise CaptureError(f"no packets in {escape(path)} match connection {proto} "
                           f"{orig_h}:{orig_p} -> {resp_h}:{resp_p}; check the UID belongs to "
                           "this file")


def conversation_filter(orig_h: str, orig_p: int, resp_h: str, resp_p: int, proto: str) -> str:
    """A display filter for both directions of one connection (ports only for TCP/UDP)."""
    layer = {"tcp": "tcp", "udp": "udp", "icmp": "icmp || icmpv6"}.get(proto)
    if layer is None:
        raise UsageError(f"cannot inspect protocol {escape(proto)}: only tcp, udp and icmp")
    try:
        orig, resp = ipaddress.ip_address(orig_h), ipaddress.ip_address(resp_h)
    except ValueError as e:
        raise UsageError(f"not an IP address: {escape(str(e))}") from e
    ip = "ip" if orig.version == 4 else "ipv6"
    ported = proto in ("tcp", "udp")

    def one_way(src: object, sport: int, dst: object, dport: int) -> str:
        ends = f"{ip}.src=={src} && {ip}.dst=={dst}"
        return f"{ends} && {proto}.srcport=={sport} && {proto}.dstport=={dport}" if ported else ends

    either = f"({one_way(orig, orig_p, resp, resp_p)}) || ({one_way(resp, resp_p, orig, orig_p)})"
    return f"({layer}) && ({either})"


def _decode_as(hints: list[str]) -> dict[str, str]:
    out = {}
    for hint in hints:
        m = _DECODE_AS.fullmatch(hint.strip())
        if m is None:
            raise UsageError(f"bad decode-as hint {escape(hint)}: use tshark's form, "
                             "e.g. tcp.port==1389,ldap")
        out[m.group(1)] = m.group(2)
    return out


def _close(capture: object, crash_type: type[Exception]) -> Exception | None:
    """Stop tshark; its failure (e.g. a file cut short) as an exception, or None.

    pyshark keeps a crashed process listed and raises again from __del__ (KimiNewt/pyshark#395),
    so the list is emptied once the failure is in hand.
    """
    try:
        capture.close()
    except crash_type as e:
        capture._running_processes.clear()
        return e
    return None


def _last_error(crash: Exception) -> str:
    """tshark's own complaint out of pyshark's crash message."""
    m = _LAST_ERROR.search(str(crash))
    return m.group(1).strip() if m else str(crash).splitlines()[0]


@functools.lru_cache(maxsize=1)
def _protocol_names(tshark: str) -> dict[str, str]:
    """Wireshark's full protocol names by filter name ("http" -> "Hypertext Transfer Protocol")."""
    listing = subprocess.run([tshark, "-G", "protocols"], capture_output=True, text=True,
                             check=False).stdout
    names = {}
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            names[parts[2]] = parts[0]
    return names


def _packet_text(packet: object, names: dict[str, str]) -> str:
    """One packet as a header line and, per layer, the protocol name and its fields' lines."""
    ts = datetime.fromtimestamp(float(packet.sniff_timestamp), tz=timezone.utc)
    lines = [f"Frame {packet.number}: {packet.length} bytes, {ts:%Y-%m-%dT%H:%M:%S.%fZ}"]
    for layer in [packet.frame_info, *packet.layers]:
        name = layer.layer_name
        lines.append(names.get(name, name.upper()))
        lines.extend(f"    {text}" for text in _field_lines(layer))
    return "\n".join(escape(line) for line in lines)


def _field_lines(layer: object) -> list[str]:
    """The layer's visible fields in byte-position order, as Wireshark shows them."""
    fields = [f for n in layer.field_names for f in layer.get_field(n).all_fields if not f.hide]
    fields.sort(key=lambda f: int(f.pos or 0))
    return [f.showname or f"{f.name}: {f.show}" for f in fields if f.showname or f.show]
