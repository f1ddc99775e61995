"""Zeek interop: enrich existing Zeek logs with pod context, and feed Zeek an IP-to-pod table.

ascii (Zeek's TSV format and escaping), files (plain/gzip logs, atomic replace), resolve (record
time and address -> holder), enrich (the streaming enricher, JSON and TSV), table (the Input
Framework table), script (the Zeek script that reads it), podfields (the field names we add).
"""
