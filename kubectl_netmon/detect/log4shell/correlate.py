"""What ties the Log4Shell stages together: one attack chain per victim IP.

The detectors share one Tracker. It remembers which lookup targets each victim received (so a
later connection can be recognised as the callback), gives every notice its chain id and the
chain's attacker, victim and callback server, and suppresses repeats like Zeek's suppress_for
while counting them on the notice that was raised. chains() summarises notices for the terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.detect.log4shell.config import DEFAULT_CONFIG, Log4ShellConfig
from kubectl_netmon.detect.log4shell.normalise import Lookup
from kubectl_netmon.detect.log4shell.notes import ATTEMPTS, LDAP_JAVA, RMI_JAVA, STAGES

_NS = 1_000_000_000
_LOOKUP_IN_HOST = re.compile(r"\$\{[^}]*\}")


def endpoint(ip: str, port: int = 0) -> str:
    """ "ip:port" ("[v6]:port"), or the bare ip when the port is unknown (0)."""
    if not port:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def endpoint_ip(text: str) -> str:
    """The address part of an endpoint() string."""
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.rpartition(":")[0] if text.count(":") == 1 else text


@dataclass
class Target:
    """A place a victim was told to look up: the host (and names it may resolve to) and port."""

    victim: str
    lookup: Lookup
    ts_ns: int
    uid: str  # the connection that carried the lookup string
    names: tuple[str, ...]  # lower-case host names or IP literals to match
    pattern: re.Pattern | None  # host with unresolved lookups (exfiltration labels)
    ips: set[str] = field(default_factory=set)  # addresses DNS gave for the names

    def matches_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.names or host in self.ips:
            return True
        return self.pattern is not None and self.pattern.fullmatch(host) is not None


def _target(victim: str, lookup: Lookup, ts_ns: int, uid: str) -> Target:
    host = lookup.host.lower()
    names = tuple(part for part in host.split("#") if part and "${" not in part)
    pattern = None
    if "${" in host:
        parts = _LOOKUP_IN_HOST.split(host.rpartition("#")[2])
        pattern = re.compile(".+".join(re.escape(p) for p in parts))
    return Target(victim, lookup, ts_ns, uid, names, pattern)


@dataclass
class _ChainState:
    id: str
    victim: str
    attacker: str = ""
    callback: str = ""
    delivered: bool = False  # callback is the server that answered with a Java payload
    sender: bool = False  # attacker sent an attempt (else the callback server stands in)


class Tracker:
    """Shared state of the Log4Shell detectors (one per pipeline run)."""

    def __init__(self, config: Log4ShellConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self._chains: dict[str, _ChainState] = {}
        self._targets: dict[str, list[Target]] = {}
        self._raised: dict[tuple[str, str], Notice] = {}

    def add_target(self, victim_ip: str, lookup: Lookup, ts_ns: int, uid: str) -> None:
        """Remember that victim_ip received lookup (once per victim and lookup name)."""
        targets = self._targets.setdefault(victim_ip, [])
        if all(t.lookup.name.lower() != lookup.name.lower() for t in targets):
            targets.append(_target(victim_ip, lookup, ts_ns, uid))

    def targets(self, victim_ip: str, ts_ns: int) -> list[Target]:
        """The live targets victim_ip received before ts_ns (inside the callback window)."""
        targets = self._targets.get(victim_ip)
        if not targets:
            return []
        oldest = ts_ns - int(self.config.callback_window_s * _NS)
        return [t for t in targets if oldest <= t.ts_ns <= ts_ns]

    def in_chain(self, victim_ip: str) -> bool:
        return victim_ip in self._chains

    def report(self, detector: Detector, notice: Notice, victim: str, victim_port: int = 0,
               attacker: str = "", callback: str = "", delivered: bool = False,
               sender: bool = False) -> None:
        """Attach the victim's chain to notice and emit it, unless it repeats a recent one.

        The chain's callback is the first lookup target until a server delivers a Java payload
        (delivered), which then names it. Its attacker is the first attempt's sender (sender);
        a callback server stands in only until then (a live capture may begin mid-chain).
        """
        chain = self._chains.get(victim)
        if chain is None:
            chain = self._chains[victim] = _ChainState(f"log4shell-{len(self._chains) + 1}",
                                                       endpoint(victim, victim_port))
        if victim_port and chain.victim == victim:
            chain.victim = endpoint(victim, victim_port)
        if attacker and (not chain.attacker or sender and not chain.sender):
            chain.attacker, chain.sender = attacker, sender
        if delivered and not chain.delivered:
            chain.callback, chain.delivered = callback, True
        chain.callback = chain.callback or callback
        notice.extra.update(chain=chain.id, victim=chain.victim, attacker=chain.attacker,
                            callback=chain.callback, suppressed=0)
        notice.suppress_for = self.config.suppress_for_s
        key = (notice.note, notice.identifier)
        first = self._raised.get(key)
        if first is not None and notice.ts_ns - first.ts_ns < notice.suppress_for * _NS:
            first.extra["suppressed"] += 1
            return
        self._raised[key] = notice
        detector.emit(notice)


@dataclass
class Chain:
    """One victim's attack chain as the terminal shows it: who, what stages, how often."""

    id: str
    victim: str  # "ip:port" of the attacked service, or the ip
    attacker: str
    callback: str  # "host:port" the victim was told to (or did) call
    notes: list[str]  # stages seen, in attack order
    notices: list[Notice]
    first_ts_ns: int
    last_ts_ns: int
    suppressed: int = 0

    @property
    def victim_ip(self) -> str:
        return endpoint_ip(self.victim)

    @property
    def attacker_ip(self) -> str:
        return endpoint_ip(self.attacker)


def chains(notices: list[Notice]) -> list[Chain]:
    """Group Log4Shell notices by chain id, earliest chain first; other notices are ignored."""
    grouped: dict[str, list[Notice]] = {}
    for notice in notices:
        chain_id = notice.extra.get("chain")
        if chain_id:
            grouped.setdefault(chain_id, []).append(notice)
    return sorted((_summary(cid, group) for cid, group in grouped.items()),
                  key=lambda c: c.first_ts_ns)


def _summary(chain_id: str, group: list[Notice]) -> Chain:
    group = sorted(group, key=lambda n: n.ts_ns)
    seen = {n.note for n in group}

    def first(key: str, notes: tuple[str, ...] = STAGES) -> str:
        return next((n.extra[key] for n in group if n.extra.get(key) and n.note in notes), "")

    return Chain(id=chain_id, victim=max((n.extra.get("victim", "") for n in group), key=len),
                 attacker=first("attacker", ATTEMPTS) or first("attacker"),
                 callback=first("callback", (LDAP_JAVA, RMI_JAVA)) or first("callback"),
                 notes=[s for s in STAGES if s in seen], notices=group,
                 first_ts_ns=group[0].ts_ns, last_ts_ns=group[-1].ts_ns,
                 suppressed=sum(n.extra.get("suppressed", 0) for n in group))
