"""Kubernetes access: client configuration, capture specs, exec streaming over WebSocket."""
