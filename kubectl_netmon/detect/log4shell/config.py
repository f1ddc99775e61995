"""Tunables of the Log4Shell detectors, as named options (the Zeek package's style)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Log4ShellConfig:
    """suppress_for_s: repeats of a notice (same note and identifier) inside this window are
    counted on the first one instead of raised (Zeek's suppress_for).
    callback_window_s: how long after a lookup string a connection to its target is a callback.
    tail_bytes: stream bytes kept per direction so a lookup split across chunks is still found.
    ldap_buffer_bytes: most server bytes held while an LDAP reply is incomplete.
    java_user_agent_prefix: the user agent the JVM's own HTTP client sends.
    """

    suppress_for_s: float = 3600.0
    callback_window_s: float = 3600.0
    tail_bytes: int = 4096
    ldap_buffer_bytes: int = 65536
    java_user_agent_prefix: str = "Java/"


DEFAULT_CONFIG = Log4ShellConfig()
