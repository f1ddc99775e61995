"""Zero false positives on a generated benign corpus of at least 100,000 packets."""

from __future__ import annotations

import pytest

from tests.detect.corpus_benign import write_corpus
from tests.detect.replay import replay

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")

MIN_PACKETS = 100_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "benign.pcap"
    return path, write_corpus(path, MIN_PACKETS)


def test_corpus_is_at_least_100k_packets(corpus):
    _, count = corpus
    assert count >= MIN_PACKETS


def test_benign_corpus_raises_no_notice(corpus):
    path, _ = corpus
    assert replay(path) == []


def test_one_attempt_hidden_in_the_corpus_is_its_only_notice(tmp_path):
    path = tmp_path / "canary.pcap"
    write_corpus(path, 20_000, canary=True)
    assert [n.note for n in replay(path)] == ["CVE_2021_44228::LOG4J_ATTEMPT_HEADER"]
