"""Zeek interop: enrich existing Zeek logs with pod context, and feed Zeek an IP-to-pod table."""
