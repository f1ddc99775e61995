"""The Zeek script that loads our IP-to-pod table and adds orig_pod/resp_pod to conn.log.

As the seed talk describes: the table comes from the Kubernetes API (kubectl-netmon zeek-table),
Zeek reads it with the Input Framework in REREAD mode (a replaced file is read again: Zeek
compares inode and mtime), and a connection_state_remove handler copies the entries for both end
points into Conn::Info before conn.log is written (Conn writes at priority -5, fills at 5). The
record's &log fields make the columns orig_pod.ns, orig_pod.name, orig_pod.node, orig_pod.node_ip
and the same for resp_pod, the names `kubectl-netmon enrich` writes.
"""

from __future__ import annotations

_SCRIPT = """\
##! Pod context for conn.log from the IP-to-pod table that
##! `kubectl netmon zeek-table -w TABLE --watch` keeps current.
##! Written by kubectl-netmon; load it with `zeek ... THIS_FILE` or `@load`.

@load base/frameworks/input
@load base/protocols/conn

module NetmonPods;

export {
	## The table file; kubectl-netmon replaces it atomically on every change.
	const table_path = "@TABLE_PATH@" &redef;

	## The key column of the table.
	type Idx: record {
		ip: addr;
	};

	## What the cluster says about an address (a node's own address has no ns).
	type Pod: record {
		ns: string &optional &log;
		name: string &optional &log;
		node: string &optional &log;
		node_ip: addr &optional &log;
	};

	## Address -> pod, as of the last read of table_path.
	global pods: table[addr] of Pod = table();
}

redef record Conn::Info += {
	## The pod (or node) that held the originator's address.
	orig_pod: Pod &optional &log;
	## The pod (or node) that held the responder's address.
	resp_pod: Pod &optional &log;
};

event zeek_init()
	{
	Input::add_table([$source=table_path, $name="netmon_pods", $idx=Idx, $val=Pod,
		$destination=pods, $mode=Input::REREAD]);
	}

event connection_state_remove(c: connection)
	{
	if ( ! c?$conn )
		return;

	if ( c$id$orig_h in pods )
		c$conn$orig_pod = pods[c$id$orig_h];

	if ( c$id$resp_h in pods )
		c$conn$resp_pod = pods[c$id$resp_h];
	}
"""


def zeek_script(table_path: str) -> str:
    """The script text, reading the table at table_path (made absolute: Zeek runs elsewhere)."""
    return _SCRIPT.replace("@TABLE_PATH@", _zeek_string(table_path))


def _zeek_string(text: str) -> str:
    """Contents of a Zeek string literal: backslash and quote escaped, bytes outside printable
    ASCII as \\xNN (Zeek's string literal escapes)."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        out.append("\\" + c if c in '\\"' else c if 0x20 <= b < 0x7F else f"\\x{b:02x}")
    return "".join(out)
