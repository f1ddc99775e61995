"""Find Log4j JNDI lookups in untrusted bytes the way Log4j itself would resolve them.

Attackers hide `${jndi:ldap://...}` behind nested lookups, defaults, case changes, URL and unicode
escapes and base64. This module peels the escapes (keeping a map back to the raw bytes, so a match
can be reported as it was sent), then evaluates `${...}` like Log4j's StrSubstitutor: inner
lookups first, `:-` defaults taken for unknown variables, lower/upper/date/base64 applied, and
every `jndi:` lookup with a remote scheme collected with its target host and port.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

# Cheap gates before any real work: something that can become "${" (STREAM_TRIGGER), or also
# a bare "jndi:" (TRIGGER, for HTTP fields where the bare form counts).
STREAM_TRIGGER = re.compile(rb"\$\{|\$%7b|%(?:25)*24|\\u00", re.IGNORECASE)
TRIGGER = re.compile(rb"\$\{|\$%7b|%(?:25)*24|\\u00|jndi", re.IGNORECASE)
# A stream trigger cut at a chunk boundary ends the chunk with one of these prefixes.
PARTIAL_TRIGGER = re.compile(rb"(?:\$|%(?:25|2)?|\\u?0?)\Z")
# Nothing resolves to "jndi" without a literal or escaped j (Unicode case mapping gives no other
# j that Log4j's lower-cased prefix check accepts) unless it hides in base64 or in an escaped
# escape ("%25", "\u0025", "%5c"), whose next layer may spell one.
_MAY_BE_JNDI = re.compile(rb"j|base64|%(?:25)*[46]a|\\u00[46]a|%25|\\u0025|%5c", re.IGNORECASE)
# Escapes worth peeling: an encoded "$" or "{", or any escape next to a literal "${".
_ENCODED_TRIGGER = re.compile(r"%(?:25)*(?:24|7b)|\\u00(?:24|7b)", re.IGNORECASE)

# Remote JNDI schemes (a `java:` lookup is local and benign) and their default ports.
DEFAULT_PORTS = {
    "ldap": 389, "ldaps": 636, "rmi": 1099, "dns": 53, "iiop": 900, "iiopname": 900,
    "corba": 2809, "corbaname": 2809, "nds": 524, "nis": 111, "http": 80, "https": 443,
}

MAX_SPAN = 4096  # longest `${...}` considered, bounding work on hostile input
MAX_DEPTH = 32  # nesting depth evaluated (Log4j has none; this bounds work on hostile input)
MAX_LAYERS = 3  # escape layers peeled (double URL encoding needs two)

_TOKEN = re.compile(r"\$\{|\}")
_ESCAPE = re.compile(r"%([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})")
_QUOTED = re.compile(r"'([^']*)'")
_PORT = re.compile(r"[0-9]{1,5}")
_BARE = re.compile(r"(?<![\w${])jndi:([a-z]+://[^\s\"'<>{}|\\^`]*)", re.IGNORECASE)
_URL = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*(?:#[^/?]*)?)(.*)", re.DOTALL)


@dataclass
class Lookup:
    """One JNDI lookup found: raw text as sent, its resolved form, and where it points."""

    raw: str  # the matched text before any decoding (latin-1, untrusted)
    normalised: str  # the whole matched expression after decoding and resolution
    name: str  # the resolved jndi name, e.g. "ldap://203.0.113.217:1389/a"
    scheme: str
    host: str  # may hold unresolved lookups, e.g. "${env:USER}.attacker.tld"
    port: int  # explicit, else the scheme's default
    path: str

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and "{" not in self.host else self.host
        return f"{host}:{self.port}"


def find_lookups(data: bytes, allow_bare: bool = False) -> list[Lookup]:
    """Every remote JNDI lookup in data, deduplicated by resolved name.

    allow_bare also accepts `jndi:ldap://...` without `${` (seen in HTTP headers, where some
    loggers wrap values themselves); off for arbitrary payloads.
    """
    if _MAY_BE_JNDI.search(data) is None:
        return []
    raw_text = data.decode("latin-1")
    found: dict[str, Lookup] = {}
    for text, origin in _layers(raw_text):
        for start, end, normalised, names in _spans(text):
            raw = _raw_span(raw_text, origin, start, end)
            for name in names:
                _add(found, name, raw, normalised)
        if allow_bare:
            for m in _BARE.finditer(text):
                _add(found, m.group(1), _raw_span(raw_text, origin, m.start(), m.end()), m.group())
    return list(found.values())


def parse_target(name: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of a jndi name with a remote scheme, else None."""
    m = _URL.match(name)
    if m is None:
        return None
    scheme = m.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        return None
    host, port = _split_authority(m.group(2))
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme], m.group(3)


def _add(found: dict[str, Lookup], name: str, raw: str, normalised: str) -> None:
    key = name.lower()
    if key in found:
        return
    target = parse_target(name)
    if target is None:
        return
    scheme, host, port, path = target
    found[key] = Lookup(raw, normalised, f"{scheme}:{name.partition(':')[2]}", scheme, host,
                        port, path)


def _split_authority(authority: str) -> tuple[str, int | None]:
    if "@" in authority and "${" not in authority:
        authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port = authority.rpartition(":")
        if not sep or _PORT.fullmatch(port) is None:
            host, port = authority, ""
    return host, int(port) if _PORT.fullmatch(port) and int(port) < 65536 else None


def _layers(text: str):
    """The raw text, then each escape layer peeled, with a map from decoded index to raw index."""
    origin: list[int] | None = None
    yield text, origin
    if _ENCODED_TRIGGER.search(text) is None and "${" not in text:
        return
    for _ in range(MAX_LAYERS):
        if _ESCAPE.search(text) is None:
            return
        text, step = _unescape(text)
        origin = step if origin is None else [origin[i] for i in step]
        yield text, origin


def _unescape(text: str) -> tuple[str, list[int]]:
    """One layer of %XX and \\uXXXX decoding; the map has one extra entry for the end."""
    out: list[str] = []
    where: list[int] = []
    pos = 0
    for m in _ESCAPE.finditer(text):
        out.append(text[pos:m.start()])
        where.extend(range(pos, m.start()))
        code = m.group(1) or m.group(2)
        out.append(chr(int(code, 16)))
        where.append(m.start())
        pos = m.end()
    out.append(text[pos:])
    where.extend(range(pos, len(text) + 1))
    return "".join(out), where


def _raw_span(raw_text: str, origin: list[int] | None, start: int, end: int) -> str:
    if origin is None:
        return raw_text[start:end]
    return raw_text[origin[start]:origin[end]]


def _spans(text: str):
    """(start, end, resolved text, jndi names) for each outermost `${...}` that names a lookup."""
    if "${" not in text:
        return
    after = 0
    for start, end in _pairs(text):
        if start < after or end - start > MAX_SPAN:
            continue
        after = end
        names: list[str] = []
        resolved = _evaluate(text[start + 2:end - 1], 0, names)
        if names:
            yield start, end, resolved, names


def _pairs(text: str) -> list[tuple[int, int]]:
    """Every matched `${` ... `}` pair as (start, index after the brace), by start: one pass."""
    opened: list[int] = []
    pairs: list[tuple[int, int]] = []
    for m in _TOKEN.finditer(text):
        if m.group() != "}":
            opened.append(m.start())
        elif opened:
            pairs.append((opened.pop(), m.end()))
    pairs.sort()
    return pairs


def _close(text: str, start: int) -> int:
    """Index after the `}` that closes the `${` at start, or -1 (unclosed or too long)."""
    depth = 0
    for m in _TOKEN.finditer(text, start, start + MAX_SPAN):
        if m.group() == "}":
            depth -= 1
            if depth == 0:
                return m.end()
        else:
            depth += 1
    return -1


def _substitute(text: str, depth: int, names: list[str]) -> str:
    """text with every closed `${...}` replaced by its value."""
    pos = text.find("${")
    if pos < 0:
        return text
    out: list[str] = []
    last = 0
    while pos >= 0:
        end = _close(text, pos)
        if end < 0:
            break
        out.append(text[last:pos])
        out.append(_evaluate(text[pos + 2:end - 1], depth + 1, names))
        last = end
        pos = text.find("${", end)
    out.append(text[last:])
    return "".join(out)


def _evaluate(expr: str, depth: int, names: list[str]) -> str:
    """The value Log4j gives `${expr}`; unknown variables without a default stay literal."""
    if depth > MAX_DEPTH:
        return "${" + expr + "}"
    expr = _substitute(expr, depth, names)
    var, has_default, default = expr.partition(":-")
    prefix, has_prefix, key = var.partition(":")
    if has_prefix:
        kind = prefix.lower()
        if kind == "jndi":
            names.append(key)
            scheme, sep, rest = key.partition(":")
            return "${jndi:" + (scheme.lower() + sep + rest if sep else key) + "}"
        if kind in ("lower", "upper"):
            text = _as_unicode(key)
            return text.lower() if kind == "lower" else text.upper()
        if kind == "base64":
            return _substitute(_b64(key), depth + 1, names)
        if kind == "date":
            return "".join(_QUOTED.findall(key))
    if has_default:
        return default
    return "${" + expr + "}"


def _as_unicode(text: str) -> str:
    """latin-1 text that is really UTF-8 (e.g. the dotless i trick) as the characters meant."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _b64(text: str) -> str:
    try:
        return base64.b64decode(text.strip() + "==", validate=False).decode("latin-1")
    except (binascii.Error, ValueError):
        return ""


def basic_credentials(value: str) -> bytes:
    """The decoded credentials of an `Authorization: Basic` value ("" when it is not one)."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return b""
    try:
        return base64.b64decode(token.strip() + "==")
    except (binascii.Error, ValueError):
        return b""
