"""Detectors: FlowListeners that raise Zeek-style notices."""
