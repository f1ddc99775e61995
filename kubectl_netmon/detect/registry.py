"""The detectors a run uses unless told otherwise."""

from __future__ import annotations

from kubectl_netmon.detect import log4shell
from kubectl_netmon.detect.base import Detector


def default_detectors() -> list[Detector]:
    """A fresh set of every built-in detector (they keep per-run state, so never share them)."""
    return log4shell.detectors()
