"""Run a capture file through the real reader, decoder and engine with the default detectors."""

from __future__ import annotations

from pathlib import Path

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.engine import Engine
from kubectl_netmon.capture.reader import open_capture
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.detect.registry import default_detectors


def replay(path: Path | str) -> list[Notice]:
    """Every notice the default detectors raise on the capture, in the order raised."""
    notices: list[Notice] = []
    detectors = default_detectors()
    for detector in detectors:
        detector.bind(notices.append)
    with open_capture(str(path)) as reader:
        for _ in Engine(detectors).run(packets(reader, DecodeStats())):
            pass
    return notices
