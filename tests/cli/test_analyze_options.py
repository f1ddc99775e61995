"""AnalyzeOptions.validate: combinations refused before anything is read."""

from __future__ import annotations

import pytest

from kubectl_netmon.cli.analyze import AnalyzeOptions
from kubectl_netmon.errors import UsageError


def test_inspect_from_stdin_is_refused_because_tshark_must_read_the_file_again():
    with pytest.raises(UsageError, match="not stdin"):
        AnalyzeOptions("-", inspect="Cabc").validate()


def test_decode_as_without_inspect_is_refused():
    with pytest.raises(UsageError, match="--decode-as only applies to --inspect"):
        AnalyzeOptions("a.pcap", decode_as=("tcp.port==1389,ldap",)).validate()


def test_a_plain_file_analysis_is_valid():
    AnalyzeOptions("a.pcap", output="json", zeek_dir="logs", top=5).validate()
