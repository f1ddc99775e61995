"""Outputs: terminal tables, JSON lines and Zeek logs.

Every untrusted string passes output.escape before it is shown or written.
"""
