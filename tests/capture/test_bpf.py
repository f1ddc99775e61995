"""capture.bpf: a filter that is no filter at all is found with the local libpcap; anything
else is left to the remote dumpcap."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture import bpf

needs_libpcap = pytest.mark.skipif(bpf._libpcap() is None,
                                   reason="libpcap is not installed here (CI has it)")


@needs_libpcap
@pytest.mark.parametrize("expression", ["tcp port", "no such filter", "(tcp", "host and"])
def test_a_syntax_error_is_libpcaps_message(expression):
    assert bpf.syntax_error(expression) == "can't parse filter expression: syntax error"


@needs_libpcap
@pytest.mark.parametrize("expression", ["tcp port 8080", "inbound", "vlan and tcp",
                                        "tcp[13] & 2 != 0", "ip6 and icmp6"])
def test_a_filter_passes(expression):
    assert bpf.syntax_error(expression) is None


@needs_libpcap
def test_a_filter_that_fails_for_another_reason_is_left_to_the_remote_dumpcap():
    """"port 99999" parses; libpcap refuses the number, and so will the remote dumpcap."""
    assert bpf.syntax_error("port 99999") is None


def test_without_libpcap_nothing_is_checked(monkeypatch):
    monkeypatch.setattr(bpf, "_libpcap", lambda: None)
    assert bpf.syntax_error("tcp port") is None
