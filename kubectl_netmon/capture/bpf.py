"""Check a capture filter with the local libpcap before a remote dumpcap gets it: a typo found
here costs nothing, one found remotely costs an ephemeral container that can never be removed.

Only syntax errors are reported: whether a filter suits the remote interface's link type is for
the remote dumpcap to say (it does, in its own words). Without libpcap here, nothing is checked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

DLT_EN10MB = 1  # a pod's eth0
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF


class _Program(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.c_void_p)]


@functools.cache
def _libpcap() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("pcap")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if lib is not None:
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Program), ctypes.c_char_p,
                                     ctypes.c_int, ctypes.c_uint32]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_Program)]
        lib.pcap_close.argtypes = [ctypes.c_void_p]
    return lib


def syntax_error(expression: str) -> str | None:
    """libpcap's message when `expression` is no filter at all; None when it compiles, fails
    for another reason, or libpcap is not installed here."""
    lib = _libpcap()
    if lib is None:
        return None
    handle = lib.pcap_open_dead(DLT_EN10MB, 262144)
    if not handle:
        return None
    try:
        program = _Program()
        if lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1,
                            PCAP_NETMASK_UNKNOWN) == 0:
            lib.pcap_freecode(ctypes.byref(program))
            return None
        message = (lib.pcap_geterr(handle) or b"").decode(errors="replace")
    finally:
        lib.pcap_close(handle)
    return message if "syntax error" in message else None
