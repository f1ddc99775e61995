"""HTTP/1.x requests and responses from in-order stream chunks of both directions.

Lenient on purpose: attackers hide payloads in the method token, the target, any header and the
body, so bare LF line ends, odd whitespace and colon-less header lines are kept, not rejected.
Each direction is a small state machine over a bounded buffer; garbage ends that direction only.
"""

from __future__ import annotations

import re

from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse

HEADER_LIMIT = 64 * 1024  # a header block longer than this is not HTTP: stop the direction
BODY_LIMIT = 64 * 1024  # bytes of a request body an event carries; body_len counts all of it
# Bytes of a response body an event carries: enough to tell what was served (file magic numbers,
# such as a Java class's or a serialized object's, are the first 2 to 8 bytes); payloads hidden
# in responses are still seen in the stream by listeners' on_data. Every response in flight holds
# them, and many connections are open at once: this bounds the flow table.
RESPONSE_BODY_LIMIT = 16
_PENDING = 256  # requests remembered while awaiting their responses (pipelining)
LINE_LIMIT = 4096  # chunk-size and trailer lines

_LINE_END = re.compile(rb"\r?\n")
_TOKEN = re.compile(rb"[\x21-\x7e]+")
_STATUS = re.compile(rb"HTTP/(\S*)[ \t]+(\d{3})(?:[ \t]+(.*))?", re.DOTALL)
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9a-fA-F]{1,15})")
_DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)

# Direction states.
_HEAD, _BODY, _CHUNK_SIZE_LINE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE, _DEAD = range(7)
_CHUNKED = -1  # a header block's framing: a chunked body
_KEEP = {HttpRequest: BODY_LIMIT, HttpResponse: RESPONSE_BODY_LIMIT}  # body bytes an event has


class _Direction:
    """One direction's parse state: the unparsed bytes and the message being built."""

    __slots__ = ("buf", "state", "scanned", "msg", "end", "body", "seen", "ts_ns")

    def __init__(self) -> None:
        # unparsed bytes: a bytearray while it holds any, else the shared b"" (the many open
        # connections in the middle of a body hold no buffer)
        self.buf: bytes | bytearray = b""
        self.state = _HEAD
        self.scanned = 0  # where the next search for the header end starts
        self.msg: HttpRequest | HttpResponse | None = None  # built, not yet emitted
        # where the current Content-Length body or chunk ends, counted like seen (in state
        # _BODY the Content-Length itself)
        self.end = 0
        # the kept body bytes (bounded by the message's entry in _KEEP, so joining is cheap)
        self.body = b""
        self.seen = 0  # body bytes seen so far
        self.ts_ns = 0  # when the current message started


class HttpParser:
    """Zeek service "http": emits HttpRequest/HttpResponse once each body is complete."""

    service = "http"
    __slots__ = ("_orig", "_resp", "_methods")

    def __init__(self) -> None:
        # A direction is None while it waits for its next message with nothing buffered (made
        # on its next bytes) and _DEAD_DIRECTION once it stopped: idle and finished directions
        # of the many open connections hold no buffers.
        self._orig: _Direction | None = None
        self._resp: _Direction | None = None
        # Methods of the requests awaiting their response (the last _PENDING); None while there
        # are none. A tuple: usually one, and the many open connections hold it.
        self._methods: tuple[str, ...] | None = None

    def feed(self, from_orig: bool, data: bytes, ts_ns: int) -> list:
        """Parse one in-order chunk; returns the messages it completed."""
        d = self._orig if from_orig else self._resp
        if d is None:
            if not data:
                return []
            d = _Direction()
            if from_orig:
                self._orig = d
            else:
                self._resp = d
        elif d.state == _DEAD or not data:
            return []
        out: list = []
        if not d.buf and d.state == _HEAD:
            data = self._whole_head(d, data, ts_ns, out)
        if not data:
            pass
        elif not d.buf and (d.state == _UNTIL_CLOSE
                            or d.state == _BODY and len(data) <= d.end - d.seen):
            self._take(d, data, len(data), out)  # the middle of a body: nothing to buffer
            if d.state == _BODY and d.seen == d.end:
                self._finish(d, out)
        else:
            if d.buf:
                d.buf += data
            else:
                d.buf = bytearray(data)
            self._run(d, ts_ns, out)
            if not d.buf:
                d.buf = b""
        if d.state == _HEAD and not d.buf and d.msg is None and not d.ts_ns:
            keep = None  # the same as a fresh direction
        elif d.state == _DEAD:
            keep = _DEAD_DIRECTION
        else:
            return out
        if (self._orig if from_orig else self._resp) is d:
            if from_orig:
                self._orig = keep
            else:
                self._resp = keep
        return out

    def close(self, ts_ns: int) -> list:
        """Emit messages cut short by the end of the connection (partial headers included)."""
        out: list = []
        for d in (self._orig, self._resp):
            if d is None or d is _DEAD_DIRECTION:
                continue
            if d.state == _HEAD and d.buf.strip():
                d.buf += b"\r\n\r\n"
                self._head(d, out)
            if d.msg is not None:
                self._emit(d, out)
            d.state = _DEAD
            d.buf = b""
        self._orig = self._resp = _DEAD_DIRECTION
        return out

    def _run(self, d: _Direction, ts_ns: int, out: list) -> None:
        progress = True
        while progress and d.buf and d.state != _DEAD:
            if d.state == _HEAD:
                d.ts_ns = d.ts_ns or ts_ns
                progress = self._head(d, out)
            elif d.state in (_BODY, _CHUNK_DATA):
                n = min(d.end - d.seen, len(d.buf))
                self._take(d, d.buf, n, out)
                del d.buf[:n]
                if d.seen == d.end:
                    if d.state == _BODY:
                        self._finish(d, out)
                    else:
                        d.state = _CHUNK_SIZE_LINE
            elif d.state == _CHUNK_SIZE_LINE:
                progress = self._chunk_size(d, out)
            elif d.state == _TRAILER:
                progress = self._trailer(d, out)
            else:  # _UNTIL_CLOSE
                self._take(d, d.buf, len(d.buf), out)
                d.buf = b""

    def _whole_head(self, d: _Direction, data: bytes, ts_ns: int, out: list) -> bytes:
        """The common case without buffering: a chunk that starts with a whole header block.
        Parses it and returns the bytes after it (data itself when the chunk holds no whole
        block; nothing when the direction stopped)."""
        if data[0] in b"\r\n":
            return data  # blank lines before the message: the buffered path skips them
        end = _header_end(data, 0)
        if end is None:
            return data
        d.ts_ns = d.ts_ns or ts_ns
        if not self._message(d, data[:end[0]], out):
            return b""
        return data[end[1]:]

    def _head(self, d: _Direction, out: list) -> bool:
        """Parse a complete header block if there is one; False when more bytes are needed."""
        start = 0
        while start < len(d.buf) and d.buf[start] in b"\r\n":
            start += 1  # blank lines between pipelined messages
        if start:
            del d.buf[:start]
            d.scanned = 0
        end = _header_end(d.buf, max(0, d.scanned - 3))
        if end is None:
            d.scanned = len(d.buf)
            if len(d.buf) > HEADER_LIMIT:
                self._stop(d)
            return False
        head = bytes(d.buf[:end[0]])
        del d.buf[:end[1]]
        d.scanned = 0
        return self._message(d, head, out)

    def _message(self, d: _Direction, head: bytes, out: list) -> bool:
        """A whole header block (without the empty line): the request or response it starts;
        False when it is neither (the direction stops)."""
        nl = head.find(b"\n")
        if nl < 0:
            line, block = head, b""
        else:
            line, block = head[:nl - 1 if head[nl - 1:nl] == b"\r" else nl], head[nl + 1:]
        headers, first, framing = _header_block(block)
        if head.startswith(b"HTTP/"):
            return self._response(d, line, headers, first, framing, out)
        return self._request(d, line, headers, first, framing, out)

    def _request(self, d: _Direction, line: bytes, headers: tuple, first: dict[str, str],
                 framing: int | None, out: list) -> bool:
        parsed = _request_line(line)
        if parsed is None:
            self._stop(d)
            return False
        method, uri, version = parsed
        methods = self._methods
        if methods is None:
            self._methods = (method,)
        else:
            self._methods = methods[1 - _PENDING:] + (method,)
        d.msg = HttpRequest(
            ts_ns=d.ts_ns, method=method, uri=uri, version=version, host=first.get("host", ""),
            user_agent=first.get("user-agent", ""), headers=headers,
            content_type=first.get("content-type", ""))
        self._frame(d, framing, until_close=False, out=out)
        return True

    def _response(self, d: _Direction, line: bytes, headers: tuple, first: dict[str, str],
                  framing: int | None, out: list) -> bool:
        parsed = _status_line(line)
        if parsed is None:
            self._stop(d)
            return False
        status, reason, version = parsed
        methods = self._methods
        method = ""
        if methods is not None and not 100 <= status < 200:
            method = methods[0]
            self._methods = methods[1:] or None
        d.msg = HttpResponse(
            ts_ns=d.ts_ns, status=status, reason=reason, version=version, headers=headers,
            content_type=first.get("content-type", ""))
        if status == 101 or (method == "CONNECT" and 200 <= status < 300):
            self._emit(d, out)  # the stream is no longer HTTP from here on
            for other in (self._orig, self._resp):
                if other is not None:
                    self._stop(other)
            self._orig = self._resp = _DEAD_DIRECTION
            return False
        no_body = method == "HEAD" or 100 <= status < 200 or status in (204, 304)
        if no_body:
            self._finish(d, out)
        else:
            self._frame(d, framing, until_close=True, out=out)
        return True

    def _frame(self, d: _Direction, framing: int | None, until_close: bool, out: list) -> None:
        """Start the body as the headers frame it (chunked, Content-Length), or for responses
        that say neither, until the connection closes."""
        if framing == _CHUNKED:
            d.state = _CHUNK_SIZE_LINE
            return
        if framing is not None:
            d.end = framing
            d.state = _BODY
            if framing == 0:
                self._finish(d, out)
        elif until_close:
            d.state = _UNTIL_CLOSE
        else:
            self._finish(d, out)

    def _chunk_size(self, d: _Direction, out: list) -> bool:
        line = self._line(d, out)
        if line is None:
            return False
        if not line.strip():
            return True  # the CRLF that ends the previous chunk's data
        m = _CHUNK_SIZE.match(line)
        if m is None:
            self._stop(d, out)
            return False
        size = int(m.group(1), 16)
        d.end = d.seen + size
        d.state = _CHUNK_DATA if size else _TRAILER
        return True

    def _trailer(self, d: _Direction, out: list) -> bool:
        line = self._line(d, out)
        if line is None:
            return False
        if not line.strip():
            self._finish(d, out)
        elif d.msg is not None:
            d.msg.headers = (*d.msg.headers, *_headers([line]))
        return True

    def _take(self, d: _Direction, data: bytes | bytearray, n: int, out: list) -> None:
        """Consume the first n bytes of data as body: keep the first bytes the message keeps
        (none once it was emitted early), count them all (the caller drops them from its
        buffer)."""
        room = _KEEP.get(type(d.msg), 0) - len(d.body)
        if room > 0:
            d.body += data[:room] if n > room else data[:n]
        d.seen += n
        if d.msg is not None and len(d.body) >= BODY_LIMIT:
            self._emit(d, out)  # early, so detectors see big uploads before they end

    def _line(self, d: _Direction, out: list) -> bytes | None:
        """Pop one line (without its end) from the buffer; None while incomplete."""
        end = d.buf.find(b"\n")
        if end < 0:
            if len(d.buf) > LINE_LIMIT:
                self._stop(d, out)
            return None
        line = bytes(d.buf[:end]).rstrip(b"\r")
        del d.buf[:end + 1]
        return line

    def _finish(self, d: _Direction, out: list) -> None:
        """The message is complete: emit it (unless the body limit already did) and reset."""
        if d.msg is not None:
            self._emit(d, out)
        d.state = _HEAD
        d.ts_ns = 0
        d.body = b""
        d.seen = 0

    def _emit(self, d: _Direction, out: list) -> None:
        msg = d.msg
        msg.body = d.body
        msg.body_len = d.end if d.state == _BODY else d.seen  # announced, else as seen
        out.append(msg)
        d.msg = None
        d.body = b""

    def _stop(self, d: _Direction, out: list | None = None) -> None:
        """Not (or no longer) HTTP: emit what was built if asked, and ignore the rest."""
        if out is not None and d.msg is not None:
            self._emit(d, out)
        d.state = _DEAD
        d.msg = None
        d.buf = b""


def _request_line(line: bytes) -> tuple[str, str, str] | None:
    """(method, target, version) from a request line; None when it has no method and target.

    The target is everything between the method and a trailing HTTP/x token (spaces kept), so a
    payload with blanks in it stays whole; HTTP/0.9 style lines give version "".
    """
    line = line.strip()
    parts = line.split()
    if len(parts) < 2 or not _TOKEN.fullmatch(parts[0]):
        return None
    method = parts[0]
    version = b""
    rest = line[len(method):]
    if len(parts) >= 3 and parts[-1].startswith(b"HTTP/"):
        version = parts[-1][5:]
        rest = rest[:-len(parts[-1])]
    return _text(method), rest.strip().decode("latin-1"), _text(version)


# Header names as sent -> their lower-case text, shared by every message (bounded: names are
# attacker-chosen).
_NAMES: dict[bytes, str] = {}
_NAMES_MAX = 1024
# Whole header lines and short tokens (methods, versions, reasons) -> their parsed form, shared
# by every message: listeners keep some events a while (a request until its response), and
# most of what they hold repeats from connection to connection. Bounded in count and size
# (attacker-chosen).
_LINES: dict[bytes, tuple[str, str]] = {}
_LINES_MAX = 4096
_LINE_SHARED = 128  # longer lines are parsed every time
_TEXTS: dict[bytes, str] = {}
_TEXTS_MAX = 1024
# Whole header blocks -> (headers, each name's first value, framing), shared the same way:
# clients and servers send the same block again and again. The shared tuple and dict are never
# changed.
_BLOCKS: dict[bytes, tuple[tuple[tuple[str, str], ...], dict[str, str], int | None]] = {}
_BLOCKS_MAX = 1024
_BLOCK_SHARED = 1024  # longer blocks are parsed every time
_STATUS_LINES: dict[bytes, tuple[int, str, str]] = {}


def _text(raw: bytes) -> str:
    """raw decoded latin-1, shared when short and seen before."""
    text = _TEXTS.get(raw)
    if text is None:
        text = raw.decode("latin-1")
        if len(raw) <= _LINE_SHARED and len(_TEXTS) < _TEXTS_MAX:
            _TEXTS[raw] = text
    return text


def _header_end(buf: bytearray, start: int) -> tuple[int, int] | None:
    """Where the header block in buf ends and the body starts: at the first empty line, whose
    line ends may be CRLF or bare LF (the pattern \r?\n\r?\n, found without a regex)."""
    crlf = buf.find(b"\n\r\n", start)
    bare = buf.find(b"\n\n", start, crlf + 2 if crlf >= 0 else len(buf))
    if bare >= 0:
        nl, after = bare, bare + 2
    elif crlf >= 0:
        nl, after = crlf, crlf + 3
    else:
        return None
    return (nl - 1 if nl > start and buf[nl - 1] == 13 else nl), after


def _header_block(block: bytes) -> tuple[tuple[tuple[str, str], ...], dict[str, str], int | None]:
    """The header lines after the start line: (headers in order, each name's first value, how
    the body is framed: _CHUNKED, the Content-Length, or None)."""
    parsed = _BLOCKS.get(block)
    if parsed is None:
        headers = tuple(_headers(_LINE_END.split(block))) if block else ()
        first = dict(reversed(headers))
        parsed = headers, first, _framing(headers, first)
        if len(block) <= _BLOCK_SHARED and len(_BLOCKS) < _BLOCKS_MAX:
            _BLOCKS[block] = parsed
    return parsed


def _framing(headers: tuple[tuple[str, str], ...], first: dict[str, str]) -> int | None:
    """_CHUNKED for a chunked body (Transfer-Encoding wins), else the Content-Length, else None."""
    if "transfer-encoding" in first and "chunked" in _last(headers, "transfer-encoding").lower():
        return _CHUNKED
    length = _DIGITS.fullmatch(first.get("content-length", ""))
    return int(length.group()) if length is not None else None


def _status_line(line: bytes) -> tuple[int, str, str] | None:
    """(status, reason, version) of a status line, None when it is none; shared when seen
    before (a few lines make up nearly all responses)."""
    parsed = _STATUS_LINES.get(line)
    if parsed is None:
        m = _STATUS.fullmatch(line)
        if m is None:
            return None
        parsed = int(m.group(2)), _text((m.group(3) or b"").strip()), _text(m.group(1))
        if len(line) <= _LINE_SHARED and len(_STATUS_LINES) < _TEXTS_MAX:
            _STATUS_LINES[line] = parsed
    return parsed


def _headers(lines: list[bytes]) -> list[tuple[str, str]]:
    """(lower-case name, value) pairs in order; folded lines join the previous value and a line
    without a colon is kept with an empty name, so no header is ever dropped."""
    out: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            name, value = out[-1]
            out[-1] = (name, f"{value} {line.strip().decode('latin-1')}")
            continue
        pair = _LINES.get(line)
        if pair is not None:
            out.append(pair)
            continue
        name, sep, value = line.partition(b":")
        if sep:
            text = _NAMES.get(name)
            if text is None:
                text = name.strip().lower().decode("latin-1")
                if len(_NAMES) < _NAMES_MAX:
                    _NAMES[name] = text
            pair = (text, value.strip().decode("latin-1"))
            if len(line) <= _LINE_SHARED and len(_LINES) < _LINES_MAX:
                _LINES[line] = pair
            out.append(pair)
        elif line.strip():
            out.append(("", line.strip().decode("latin-1")))
    return out


def _last(headers: tuple[tuple[str, str], ...], name: str) -> str:
    return next((v for n, v in reversed(headers) if n == name), "")


# The stopped direction every parser shares (it never buffers: feed returns before it would).
_DEAD_DIRECTION = _Direction()
_DEAD_DIRECTION.state = _DEAD
