"""Log4Shell (CVE-2021-44228) detectors: attempt, LDAP/RMI Java reply, class download, callback.

They share one correlate.Tracker, which links their notices into one attack chain per victim.
"""

from __future__ import annotations

from kubectl_netmon.detect.base import Detector
from kubectl_netmon.detect.log4shell.attempt import AttemptDetector
from kubectl_netmon.detect.log4shell.callback import CallbackDetector
from kubectl_netmon.detect.log4shell.class_download import ClassDownloadDetector
from kubectl_netmon.detect.log4shell.config import DEFAULT_CONFIG, Log4ShellConfig
from kubectl_netmon.detect.log4shell.correlate import Chain, Tracker, chains
from kubectl_netmon.detect.log4shell.ldap import LdapJavaDetector
from kubectl_netmon.detect.log4shell.rmi import RmiJavaDetector

__all__ = ["Chain", "Log4ShellConfig", "chains", "detectors"]


def detectors(config: Log4ShellConfig = DEFAULT_CONFIG) -> list[Detector]:
    """One set of Log4Shell detectors sharing one tracker (a fresh set per analysis run)."""
    tracker = Tracker(config)
    return [AttemptDetector(tracker), LdapJavaDetector(tracker), RmiJavaDetector(tracker),
            ClassDownloadDetector(tracker), CallbackDetector(tracker)]
