"""Packets from bytes: capture file readers and writers, decoding, flows and L7. Knows nothing of Kubernetes."""
