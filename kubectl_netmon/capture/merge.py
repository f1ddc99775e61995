"""Several live capture streams -> one time-ordered record stream in which each packet counts once.

A single stream is parsed in the consumer's thread as it arrives (no hand-over between threads:
the GIL would make the reader wait after each socket read); its clocks (ticks, duration,
finish) run between chunks and while the stream is quiet. With several, one reader thread per
stream parses its pcapng or pcap (capture.reader over a ChunkFile) and
hands batches of records to the consumer through a bounded queue. The consumer (the caller of
`MergedStreams.records()`, the main thread) holds records in a small reorder window so the
streams interleave in capture-time order, and drops a packet that another capture point or
interface already delivered within a short window: pod-to-pod traffic captured at both pods,
or seen on a node's veth and again on its bridge.

A merge that may grow (`growing=True`: a watch that follows a workload's new pods) always
takes the threaded path; `add_source()` starts a reader for a stream that joined mid-run, and
`expect()` keeps the merge open while a source is on its way and no stream is open.

`records()` yields what a file reader yields, `(ts_ns, iface, buf, start, end)` with `iface`
indexing `interfaces`, so `capture.decode.packets` decodes the merged stream unchanged.
"""

from __future__ import annotations

import heapq
import os
import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.chunkfile import ChunkFile
from kubectl_netmon.capture.linktypes import DECODERS, FIXED_HEADERS
from kubectl_netmon.capture.reader import open_stream
from kubectl_netmon.capture.source import Interface, Record
from kubectl_netmon.errors import NetmonError

REORDER_NS = 500_000_000  # how far (capture time) a stream may lag behind the others
DEDUPE_NS = 200_000_000  # the same packet seen again within this time is a duplicate
MAX_HELD = 200_000  # records held for reordering at most (memory bound)
MAX_BATCH = 512  # records a reader thread hands over at once
QUEUE_BATCHES = 64  # batches in flight: a slow consumer slows the streams, not memory
TICK_S = 0.1  # the consumer's on_tick runs at least this often while the streams are quiet
FINISH_GRACE_S = 5.0  # after asking the sources to finish, how long their last packets may take

# IPv4: bytes 0-7 (version, TOS, length, ID, flags/offset), TTL skipped, protocol.
_V4 = struct.Struct("!QxB").unpack_from
# IPv6: version/class/flow label, payload length, next header (hop limit skipped).
_V6 = struct.Struct("!IHB").unpack_from
# Where each transport keeps its checksum (offload leaves it unfinished at the sender).
_CHECKSUM_AT = {6: 16, 17: 6}
_COOKED = frozenset((113, 276))  # `-i any`: one interface id for many devices
_TS = itemgetter(0)


def packet_key(buf: bytes, ip: int, end: int) -> int | None:
    """A hash of the IP packet without what changes on the way: TTL/hop limit, the IP header
    checksum, the TCP/UDP checksum, and link padding after the IP length. None if not IP."""
    if end - ip < 20:
        return None
    version = buf[ip] >> 4
    if version == 4:
        head, proto = _V4(buf, ip)
        total = head >> 32 & 0xFFFF
        stop = ip + total if total and ip + total < end else end
        t = ip + ((head >> 56 & 15) << 2)
        at = _CHECKSUM_AT.get(proto) if not head & 0x1FFF else None
        fixed = (head, proto)
        addrs = ip + 12
    elif version == 6 and end - ip >= 40:
        flow, plen, proto = _V6(buf, ip)
        stop = ip + 40 + plen if plen and ip + 40 + plen < end else end
        t = ip + 40
        at = _CHECKSUM_AT.get(proto)
        fixed = (flow, plen, proto)
        addrs = ip + 8
    else:
        return None
    if at is not None and t + at + 2 <= stop:
        return hash((fixed, buf[addrs:t + at], buf[t + at + 2:stop]))
    return hash((fixed, buf[addrs:stop]))


class Dedupe:
    """Remembers packet keys for `window_ns` of capture time, in time order.

    A key seen again from another source is a duplicate. A source is an interface, except that
    a cooked (`-i any`) interface cannot tell its devices apart: there any repeat is one.
    """

    __slots__ = ("_window", "_seen", "_order")

    def __init__(self, window_ns: int = DEDUPE_NS) -> None:
        self._window = window_ns
        self._seen: dict[int, tuple[int, int]] = {}  # key -> (source, ts) of the last sighting
        self._order: deque[tuple[int, int]] = deque()  # (ts, key), oldest first

    def duplicate(self, key: int, ts: int, source: int) -> bool:
        """Whether this packet was already delivered; if not, remember it."""
        order, seen = self._order, self._seen
        horizon = ts - self._window
        while order and order[0][0] < horizon:
            old_ts, old_key = order.popleft()
            if seen.get(old_key, (0, -1))[1] == old_ts:
                del seen[old_key]
        last = seen.get(key)
        if last is not None and last[1] >= horizon and (source < 0 or last[0] != source):
            return True
        seen[key] = (source, ts)
        order.append((ts, key))
        return False

    def kept(self, records: list[Record], fixed: list, sources: list[int | None],
             locate: Callable[[int, bytes, int, int], int]) -> tuple[list[Record], int]:
        """The records that are no duplicates, and how many were: sources[iface] is the
        record's source for the check (None: none made there); locate gives its IP offset (-1:
        not IP). `fixed` (where FIXED_HEADERS finds the IP header) is for the compiled twin,
        capture._speedups.Deduper, which keys packets with a hash of its own."""
        out, duplicates = [], 0
        for rec in records:
            ts, iface, buf, start, end = rec
            source = sources[iface] if iface < len(sources) else None
            if source is not None:
                ip = locate(iface, buf, start, end)
                key = packet_key(buf, ip, end) if ip >= 0 else None
                if key is not None and self.duplicate(key, ts, source):
                    duplicates += 1
                    continue
            out.append(rec)
        return out, duplicates


def _deduper(window_ns: int):
    """The duplicate check: compiled where it is built (keyed with a secret of this run), else
    Dedupe."""
    if speedups.fast is not None:
        return speedups.fast.Deduper(window_ns, os.urandom(16))
    return Dedupe(window_ns)


@dataclass
class StreamState:
    """What one stream delivered, and why it ended if it did (kept for the summary)."""

    name: str
    description: str = ""
    packets: int = 0
    newest: int = -1  # capture time of its newest record, -1 before the first
    ended: bool = False
    error: str = ""  # why it dropped (stream error, damage); packets before it were kept
    ifaces: list[int] = field(default_factory=list)  # its interface ids -> global ids


@dataclass
class MergeStats:
    """Counters of the merged stream, for the status line and the summary."""

    packets: int = 0  # records delivered, after duplicates were dropped
    duplicates: int = 0


@dataclass
class Source:
    """One capture stream: a name for its interfaces, and its pcap/pcapng bytes as chunks.

    While it is quiet, a source yields b"" every TICK_S or so (ExecStream.idle_every): a single
    stream is read in the consumer's thread, whose clocks run only between chunks."""

    name: str
    chunks: Iterable[bytes]
    description: str = ""


class MergedStreams:
    """Reads every source in its own thread; `records()` merges them (see the module doc).

    Ends when every stream ended or `count` records were delivered. When the duration passed
    or `finish()` was called (Ctrl-C), `ask_finish` is called once (the session asks the remote
    captures to flush and end) and the streams get FINISH_GRACE_S to end; `stop()` ends it now.
    """

    def __init__(self, sources: list[Source], duration_s: float | None = None,
                 count: int | None = None, reorder_ns: int = REORDER_NS,
                 dedupe_ns: int = DEDUPE_NS,
                 ask_finish: Callable[[], None] | None = None, growing: bool = False) -> None:
        self.interfaces: list[Interface] = []
        self.streams = [StreamState(s.name, s.description) for s in sources]
        self.stats = MergeStats()
        self.on_tick: Callable[[], None] | None = None
        self._sources = sources
        self._duration = duration_s
        self._count = count
        self._reorder = reorder_ns
        self._dedupe = _deduper(dedupe_ns)
        self._queue: queue.Queue = queue.Queue(QUEUE_BATCHES)
        self._stopping = threading.Event()
        self._finish_wanted = False
        self._ask_finish = ask_finish
        self._give_up: float | None = None  # when finishing: the end of the grace period
        # per interface: how to find its IP header, and its source for the duplicate check
        # with several streams (None: not IP) and with one (only a cooked one checks)
        self._links: list[Callable[[bytes, int, int], int] | None] = []
        self._fixed: list[tuple[int, int] | None] = []
        self._check_all: list[int | None] = []
        self._check_cooked: list[int | None] = []
        self._cooked = False  # a cooked interface may show a packet twice (see _kept)
        self._threads: list[threading.Thread] = []
        self._growing = growing
        self._expected = 0  # sources announced by expect() and not given up yet
        self._lock = threading.Lock()  # sources, streams and threads grow under it
        self._started = False

    def start(self) -> None:
        """Start one reader thread per source."""
        with self._lock:
            self._started = True
            for i, src in enumerate(self._sources):
                self._start_reader(i, src)

    def add_source(self, source: Source) -> None:
        """A stream that joined mid-run (growing merges only; any thread): read from now on,
        its interfaces appended to `interfaces` as usual."""
        if not self._growing:
            raise ValueError("add_source needs a merge made with growing=True")
        with self._lock:
            self._sources.append(source)
            self.streams.append(StreamState(source.name, source.description))
            if self._started:  # read it now (else start() will)
                self._start_reader(len(self._sources) - 1, source)

    def expect(self, change: int = 1) -> None:
        """`change` more sources are on their way (negative: that many will not come); while
        any is, a growing merge goes on with no stream open (any thread)."""
        with self._lock:
            self._expected += change

    def _start_reader(self, idx: int, src: Source) -> None:
        t = threading.Thread(target=self._pump, args=(idx, src), daemon=True,
                             name=f"netmon-read-{idx}")
        self._threads.append(t)
        t.start()

    def stop(self) -> None:
        """End the merge now (safe from a signal handler); records() flushes and returns."""
        self._stopping.set()

    def finish(self) -> None:
        """End the merge once the sources delivered their last packets (safe from a signal
        handler: the sources are asked from records(), within TICK_S)."""
        self._finish_wanted = True

    @property
    def open_streams(self) -> int:
        return sum(not s.ended for s in self.streams)

    def _running(self) -> bool:
        """Streams are open, or (growing) an expected one is still to come."""
        return bool(self.open_streams or self._growing and self._expected > 0)

    def join(self, timeout: float = 2.0) -> None:
        """Wait briefly for the reader threads (their streams are closed by then)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))

    # -- consumer (main thread) -----------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """The merged records in capture-time order, each packet once."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Record]]:
        """The same in lists (capture.source.CaptureReader.batches), none empty."""
        if len(self._sources) == 1 and not self._growing:
            yield from self._direct(self._sources[0], self.streams[0])
            return
        if not self._started:
            self.start()
        reorder = _Reorder(self._reorder)
        get = self._queue.get
        deadline = time.monotonic() + self._duration if self._duration else None
        next_tick = time.monotonic() + TICK_S
        while not self._stopping.is_set() and self._running():
            try:
                item = get(timeout=TICK_S)
            except queue.Empty:
                item = None
            now = time.monotonic()
            batch = self._take(item) if item is not None else []
            if batch:
                reorder.push(batch, now, self.streams[item[0]].newest)
            batch = self._kept(reorder.ready(now, self._watermark()))
            if batch:
                yield batch
            if self._count and self.stats.packets >= self._count:
                self._stopping.set()
                return
            self._wind_down(now, deadline)
            if now >= next_tick:
                next_tick = now + TICK_S
                if self.on_tick is not None:
                    self.on_tick()
        batch = self._kept(reorder.drain())
        if batch:
            yield batch
        self._stopping.set()

    def _direct(self, src: Source, state: StreamState) -> Iterator[list[Record]]:
        """The one stream's records as its reader parses them, in this thread (module doc)."""
        clock = _Clock(self, src)
        try:
            reader = open_stream(clock.file, src.name, owns_file=False)
            for batch in reader.batches():
                if len(reader.interfaces) > len(state.ifaces):
                    self._sync_interfaces(state, reader.interfaces)
                state.packets += len(batch)
                batch = self._kept(batch)
                if batch:
                    yield batch
                if self._count and self.stats.packets >= self._count:
                    break
            else:
                if reader.damage is not None and not clock.closed_here:
                    state.error = str(reader.damage)
        except NetmonError as e:
            state.error = str(e)
        finally:
            state.ended = True
            self._stopping.set()
        clock.raise_error()

    def _kept(self, batch: list[Record]) -> list[Record]:
        """The batch without duplicates (only possible with several streams, or a cooked
        interface that sees a packet on several devices), up to the count; counted."""
        if len(self.streams) > 1 or self._cooked:
            checks = self._check_all if len(self.streams) > 1 else self._check_cooked
            batch, duplicates = self._dedupe.kept(batch, self._fixed, checks, self._locate)
            self.stats.duplicates += duplicates
        self.stats.packets += len(batch)
        over = self.stats.packets - self._count if self._count else 0
        if over > 0:
            batch = batch[:len(batch) - over]
            self.stats.packets = self._count
        return batch

    def _locate(self, iface: int, buf: bytes, start: int, end: int) -> int:
        """Where the record's IP header starts (-1: none)."""
        link = self._links[iface]
        return link(buf, start, end) if link is not None else -1

    def _sync_interfaces(self, state: StreamState, ifaces: list[Interface]) -> None:
        """The stream's interfaces not passed on yet become the merged stream's."""
        for iface in ifaces[len(state.ifaces):]:
            state.ifaces.append(self._add_interface(state, iface))

    def _wind_down(self, now: float, deadline: float | None) -> None:
        """The duration passed or finish() was called: ask the sources once to finish, and
        stop when the grace period is over (at once if nobody can be asked)."""
        if self._give_up is None:
            if not (self._finish_wanted or deadline is not None and now >= deadline):
                return
            self._give_up = now + FINISH_GRACE_S
            if self._ask_finish is not None:
                self._ask_finish()
        if now >= self._give_up or self._ask_finish is None or not self.open_streams:
            self._stopping.set()

    def _watermark(self) -> int:
        """Every open stream has passed this time (or the newest is the reorder window ahead)."""
        newest = max((s.newest for s in self.streams), default=-1)
        low = min((s.newest for s in self.streams if not s.ended), default=newest)
        return max(low, newest - self._reorder)

    def _take(self, item: tuple) -> list:
        """A message from a reader thread: new interfaces, then records (None: stream ended)."""
        idx, new_ifaces, batch = item
        state = self.streams[idx]
        for iface in new_ifaces:
            state.ifaces.append(self._add_interface(state, iface))
        if batch is None:
            state.ended = True
            return []
        ids = state.ifaces
        if ids != list(range(len(ids))):  # numbered apart from the stream's: renumber
            batch = [(ts, ids[i], buf, start, end) for ts, i, buf, start, end in batch]
        if batch:
            state.packets += len(batch)
            state.newest = max(state.newest, max(map(_TS, batch)))
        return batch

    def _add_interface(self, state: StreamState, iface: Interface) -> int:
        """A stream's interface becomes one of the merged stream's, named after the stream."""
        name = f"{state.name}:{iface.name or len(state.ifaces)}" if state.ifaces else state.name
        remote = f"captured on {iface.name}" if iface.name else ""
        desc = "; ".join(d for d in (state.description, remote, iface.description) if d)
        self.interfaces.append(iface._replace(name=name, description=desc))
        gid = len(self.interfaces) - 1
        link, cooked = DECODERS.get(iface.linktype), iface.linktype in _COOKED
        self._links.append(link)
        self._fixed.append(FIXED_HEADERS.get(iface.linktype))
        self._check_all.append(None if link is None else -1 if cooked else gid)
        self._check_cooked.append(-1 if link is not None and cooked else None)
        self._cooked = self._cooked or cooked
        return gid

    # -- reader threads -------------------------------------------------------------------------

    def _pump(self, idx: int, src: Source) -> None:
        """Thread body: parse one stream, hand its records over in batches, then an end mark."""
        state = self.streams[idx]
        sent_ifaces = 0
        try:
            reader = open_stream(ChunkFile(src.chunks), src.name, owns_file=False)
            for batch in reader.batches():
                ifaces = reader.interfaces[sent_ifaces:]
                sent_ifaces += len(ifaces)
                for at in range(0, len(batch), MAX_BATCH):
                    self._put((idx, ifaces if at == 0 else [], batch[at:at + MAX_BATCH]))
                if self._stopping.is_set():
                    break
            else:
                if reader.damage is not None:
                    state.error = str(reader.damage)
        except NetmonError as e:
            state.error = str(e)
        except Exception as e:  # noqa: BLE001 - one stream's failure must not end the others
            state.error = f"{type(e).__name__}: {e}"
        finally:
            self._put((idx, [], None))

    def _put(self, item: tuple) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=TICK_S)
                return
            except queue.Full:
                continue


class _Clock:
    """The direct path's ChunkFile, and what runs between its chunks: the tick, the duration,
    finish() and stop(). An error of the tick (an output failing) is kept and raised after the
    stream was closed, so it does not pass for the stream's own."""

    def __init__(self, merged: MergedStreams, src: Source) -> None:
        self._merged = merged
        self.file = ChunkFile(src.chunks, self._between)
        self.closed_here = False
        self._deadline = time.monotonic() + merged._duration if merged._duration else None
        self._next_tick = time.monotonic() + TICK_S
        self._error: BaseException | None = None

    def _between(self) -> None:
        merged, now = self._merged, time.monotonic()
        try:
            merged._wind_down(now, self._deadline)
            if now >= self._next_tick:
                self._next_tick = now + TICK_S
                if merged.on_tick is not None:
                    merged.on_tick()
        except Exception as e:  # noqa: BLE001 - raised again by raise_error()
            self._error = e
            merged._stopping.set()
        if merged._stopping.is_set():
            self.closed_here = True
            self.file.close()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class _Reorder:
    """Records of several streams held until no stream can still send an older one: every open
    stream has passed them, they trail the newest by the window, or they arrived a window ago
    (a quiet stream holds nothing back for longer). At most MAX_HELD are held."""

    def __init__(self, window_ns: int) -> None:
        self._window_ns = window_ns
        self._held = record_heap()
        self._arrivals: deque[tuple[float, int]] = deque()  # (monotonic, stream's newest ts)
        self._floor = -1  # records at or below this capture time may go

    def push(self, batch: list[Record], now: float, newest: int) -> None:
        self._held.push(batch)
        self._arrivals.append((now, newest))

    def ready(self, now: float, watermark: int) -> list[Record]:
        """The held records that may go now, oldest first."""
        arrivals, aged = self._arrivals, now - self._window_ns / 1e9
        floor = max(self._floor, watermark)
        while arrivals and arrivals[0][0] <= aged:
            floor = max(floor, arrivals.popleft()[1])
        self._floor = floor
        return self._held.pop_through(floor, MAX_HELD)

    def drain(self) -> list[Record]:
        """Everything still held, oldest first (the streams have ended)."""
        return self._held.drain()


def record_heap():
    """Records by capture time, then arrival: compiled where it is built, else RecordHeap."""
    return speedups.fast.RecordHeap() if speedups.fast is not None else RecordHeap()


class RecordHeap:
    """Held records, oldest (then first arrived) first (capture._speedups.RecordHeap's twin)."""

    def __init__(self) -> None:
        self._held: list[tuple] = []  # heap of (ts, seq, iface, buf, start, end)
        self._seq = 0

    def __len__(self) -> int:
        return len(self._held)

    def push(self, batch: list[Record]) -> None:
        push, held, seq = heapq.heappush, self._held, self._seq
        for ts, iface, buf, start, end in batch:
            seq += 1
            push(held, (ts, seq, iface, buf, start, end))
        self._seq = seq

    def pop_through(self, floor: int, max_held: int) -> list[Record]:
        """The records at or below `floor`, and the oldest beyond `max_held`, oldest first."""
        held, pop, out = self._held, heapq.heappop, []
        while held and (held[0][0] <= floor or len(held) > max_held):
            ts, _, iface, buf, start, end = pop(held)
            out.append((ts, iface, buf, start, end))
        return out

    def drain(self) -> list[Record]:
        out = [(ts, iface, buf, start, end) for ts, _, iface, buf, start, end in
               sorted(self._held)]
        self._held.clear()
        return out
