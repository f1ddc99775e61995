"""The lab's Kubernetes API server: the real wire protocol over HTTPS, backed by an in-memory store.

Real kubectl and the product's client talk to it unchanged; pods run as processes through
tests/lab/runtime.py, driven by the kubelet controller here.
"""
