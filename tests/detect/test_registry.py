"""default_detectors(): the built-in detectors, a fresh set (with its own state) per call."""

from __future__ import annotations

from kubectl_netmon.detect.base import Detector
from kubectl_netmon.detect.registry import default_detectors


def test_default_detectors_are_the_five_log4shell_detectors():
    assert sorted(d.name for d in default_detectors()) == [
        "log4shell.attempt", "log4shell.callback", "log4shell.class_download",
        "log4shell.ldap_java", "log4shell.rmi_java"]


def test_every_default_detector_is_a_detector():
    assert all(isinstance(d, Detector) for d in default_detectors())


def test_each_call_gives_fresh_detectors():
    first, second = default_detectors(), default_detectors()
    assert not {id(d) for d in first} & {id(d) for d in second}


def test_no_detector_pays_for_every_packet():
    assert all(type(d).on_packet is Detector.on_packet for d in default_detectors())
