"""Packets from bytes: capture readers and writers, decoding, flows, L7.

Knows nothing of Kubernetes.
"""
