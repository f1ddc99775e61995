/* The flow engine's common case per packet, compiled: engine.Engine.run's lookup and checks for
 * a TCP or UDP packet of a live flow, and Engine._tcp's in-order segment.
 *
 * flow_packet() first decides, without changing anything, whether the packet is one it takes: a
 * packet of a flow in the table that neither times out, closes, splits nor starts anew here, and
 * no sweep is due. Then it does what run and _tcp do, calling the engine's own Python methods for
 * everything beyond the counters and sequence arithmetic (_tcp_full, history letters, zero
 * windows, acknowledged gaps, retransmissions, reassembly, delivery, UDP). Anything else returns
 * False untouched and run's Python code takes the packet: it stays the reference.
 */
#include "_speedups.h"

/* conn_state.py's endpoint states, model.py's TCP flags, engine.py's history bits */
#define INACTIVE 0
#define CLOSED 5
#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10
#define H_DATA (1 << 3)
#define H_ACK (1 << 4)
#define H_RESP_SHIFT 8
#define M32 0xFFFFFFFFLL
#define HALF 0x80000000LL
#define TOO_LARGE (1LL << 20)

enum { F_CONN, F_ORIG, F_RESP, F_HIST, F_CLOSE_AT, N_FLOW };
static const char *const flow_names[N_FLOW] = {"conn", "orig", "resp", "hist", "close_at"};
enum { C_TS, C_LAST, C_ORIG_PKTS, C_RESP_PKTS, C_ORIG_IP, C_RESP_IP, N_CONN };
static const char *const conn_names[N_CONN] = {"ts_ns", "last_ns", "orig_pkts", "resp_pkts",
                                                "orig_ip_bytes", "resp_ip_bytes"};
enum { E_STATE, E_START, E_LAST, E_ACK, E_DID_CLOSE, E_NEXT, E_STREAM, N_EP };
static const char *const ep_names[N_EP] = {"state", "start", "last", "ack", "did_close", "next",
                                            "stream"};
/* Engine.run's context tuple (engine._fast_context) */
enum { X_TCP, X_UDP, X_TCP_IDLE, X_UDP_IDLE, X_ACTIVE, X_END, X_TCP_FULL, X_ZERO_WINDOW,
       X_LETTER, X_ACKED, X_RETRANSMITTED, X_SEGMENT, X_DELIVER, X_DATAGRAM, X_LETTERS, N_CTX };

static PyTypeObject *flow_type, *conn_type, *ep_type;
static Py_ssize_t flow_at[N_FLOW], conn_at[N_CONN], ep_at[N_EP];

#define SLOT(o, at) (*(PyObject **)((char *)(o) + (at)))
#define PKT(p, i) SLOT(p, slot_at[i])

/* set_flow_types(Flow, Conn, TcpEndpoint): where their slots live. */
PyObject *set_flow_types(PyObject *self, PyObject *args) {
    PyObject *flow, *conn, *ep;
    if (!PyArg_ParseTuple(args, "OOO", &flow, &conn, &ep)) return NULL;
    if (slot_offsets(flow, flow_names, N_FLOW, flow_at) < 0 ||
        slot_offsets(conn, conn_names, N_CONN, conn_at) < 0 ||
        slot_offsets(ep, ep_names, N_EP, ep_at) < 0)
        return NULL;
    Py_INCREF(flow);
    Py_INCREF(conn);
    Py_INCREF(ep);
    Py_XSETREF(flow_type, (PyTypeObject *)flow);
    Py_XSETREF(conn_type, (PyTypeObject *)conn);
    Py_XSETREF(ep_type, (PyTypeObject *)ep);
    Py_RETURN_NONE;
}

/* An int field as long long: 1, or 0 when it is no int that fits (no exception set). */
static int as_ll(PyObject *o, long long *v) {
    int overflow;
    if (o == NULL || !PyLong_CheckExact(o)) return 0;
    *v = PyLong_AsLongLongAndOverflow(o, &overflow);
    return !overflow;
}

/* The same once the packet is taken: anything but an int is an error then. */
static int need_ll(PyObject *o, long long *v) {
    if (as_ll(o, v)) return 0;
    PyErr_SetString(PyExc_TypeError, "flow state: an int field holds something else");
    return -1;
}

/* Replace a slot's value (the new reference is stolen; NULL: fails). */
static int put(PyObject *o, Py_ssize_t at, PyObject *v) {
    if (v == NULL) return -1;
    PyObject *old = SLOT(o, at);
    SLOT(o, at) = v;
    Py_XDECREF(old);
    return 0;
}

/* A slot's int plus n, or value (shared, when equal to `same`'s int) as the slot's new value. */
static int add(PyObject *o, Py_ssize_t at, long long n) {
    long long v;
    if (need_ll(SLOT(o, at), &v) < 0) return -1;
    return put(o, at, PyLong_FromLongLong(v + n));
}

static int put_or_share(PyObject *o, Py_ssize_t at, long long v, PyObject *same) {
    long long s;
    if (need_ll(same, &s) < 0) return -1;
    if (s == v) {
        Py_INCREF(same);
        return put(o, at, same);
    }
    return put(o, at, PyLong_FromLongLong(v));
}

static int call(PyObject *fn, PyObject *const *argv, size_t n) {
    PyObject *r = PyObject_Vectorcall(fn, argv, n, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Engine._tcp's int-valued call arguments: made, passed, released. */
static int call_with_int(PyObject *fn, PyObject **argv, size_t n, size_t at, long long v) {
    if ((argv[at] = PyLong_FromLongLong(v)) == NULL) return -1;
    int r = call(fn, argv, n);
    Py_DECREF(argv[at]);
    return r;
}

/* The flow of a packet: looked up by its key, else by the key reversed (is_orig 0); a borrowed
 * reference, NULL with no error when none, NULL with an error on failure. */
static PyObject *lookup(PyObject *table, PyObject *key, int *is_orig) {
    PyObject *f = PyDict_GetItemWithError(table, key);
    *is_orig = 1;
    if (f != NULL || PyErr_Occurred()) return f;
    PyObject *reversed = key_reversed(key);
    if (reversed == NULL) return NULL;
    f = PyDict_GetItemWithError(table, reversed);
    Py_DECREF(reversed);
    *is_orig = 0;
    return f;
}

/* run's checks: 1 when the flow goes on with this packet (no close delay passed, not idle, no
 * active timeout split), 0 when run must look. */
static int goes_on(PyObject *f, PyObject *conn, long long ts, PyObject *idle, PyObject *active,
                   PyObject *split_from) {
    long long close_at, last, limit, first, span;
    if (!as_ll(SLOT(f, flow_at[F_CLOSE_AT]), &close_at) || (close_at && ts >= close_at)) return 0;
    if (!as_ll(SLOT(conn, conn_at[C_LAST]), &last) || !as_ll(idle, &limit) || ts - last >= limit)
        return 0;
    if (PyFloat_CheckExact(split_from) ? (double)ts < PyFloat_AS_DOUBLE(split_from)
                                       : as_ll(split_from, &limit) && ts < limit)
        return 1;
    return as_ll(SLOT(conn, conn_at[C_TS]), &first) && as_ll(active, &span) && ts - first < span;
}

/* Engine._tcp after the counters, for a segment of the common case. */
static int tcp_common(PyObject *ctx, PyObject *f, PyObject *conn, PyObject *ep, PyObject *peer,
                      PyObject *p, int is_orig, long long flags) {
    PyObject *ts = PKT(p, P_TS), *orig = is_orig ? Py_True : Py_False;
    long long ln, last, start, seq, window, hist, peer_state;
    Py_INCREF(ts);
    if (put(conn, conn_at[C_LAST], ts) < 0 || need_ll(PKT(p, P_PAYLOAD_LEN), &ln) < 0 ||
        need_ll(SLOT(ep, ep_at[E_LAST]), &last) < 0 ||
        need_ll(SLOT(ep, ep_at[E_START]), &start) < 0 || need_ll(PKT(p, P_SEQ), &seq) < 0 ||
        need_ll(PKT(p, P_WINDOW), &window) < 0 ||
        need_ll(SLOT(peer, ep_at[E_STATE]), &peer_state) < 0)
        return -1;
    long long rel = last + ((seq - start - last + HALF) & M32) - HALF;
    PyObject *zero[3] = {f, ep, orig};
    if (!window && peer_state != CLOSED &&
        call(PyTuple_GET_ITEM(ctx, X_ZERO_WINDOW), zero, 3) < 0)
        return -1;
    long long bit = (ln ? H_DATA : flags & ACK ? H_ACK : 0) << (is_orig ? 0 : H_RESP_SHIFT);
    if (bit) {
        if (need_ll(SLOT(f, flow_at[F_HIST]), &hist) < 0) return -1;
        PyObject *letters = PyTuple_GET_ITEM(ctx, X_LETTERS);
        PyObject *letter[3] = {f, NULL, PyTuple_GET_ITEM(letters, (ln ? 2 : 0) + !is_orig)};
        if (!(hist & bit) && call_with_int(PyTuple_GET_ITEM(ctx, X_LETTER), letter, 3, 1, bit) < 0)
            return -1;
    }
    if (flags & ACK) {
        long long pa, pstart, ack, next;
        if (need_ll(SLOT(peer, ep_at[E_ACK]), &pa) < 0 ||
            need_ll(SLOT(peer, ep_at[E_START]), &pstart) < 0 || need_ll(PKT(p, P_ACK), &ack) < 0)
            return -1;
        long long rel_ack = pa + ((ack - pstart - pa + HALF) & M32) - HALF;
        if (rel_ack > pa && (ack || rel_ack - pa <= TOO_LARGE) &&
            put_or_share(peer, ep_at[E_ACK], rel_ack, SLOT(peer, ep_at[E_LAST])) < 0)
            return -1;
        if (rel_ack > 1) {
            PyObject *stream = SLOT(peer, ep_at[E_STREAM]);
            PyObject *at = stream == Py_None ? SLOT(peer, ep_at[E_NEXT])
                                             : PyObject_GetAttrString(stream, "next");
            int ok = at != NULL && need_ll(at, &next) == 0;
            if (stream != Py_None) Py_XDECREF(at);
            if (!ok) return -1;
            PyObject *acked[5] = {f, is_orig ? Py_False : Py_True, peer, NULL, ts};
            if (rel_ack > next &&
                call_with_int(PyTuple_GET_ITEM(ctx, X_ACKED), acked, 5, 3, rel_ack) < 0)
                return -1;
        }
    }
    if (rel + ln > last) {
        if (put(ep, ep_at[E_LAST], PyLong_FromLongLong(rel + ln)) < 0) return -1;
    } else if (ln) {
        PyObject *again[3] = {conn, ep, orig};
        if (call(PyTuple_GET_ITEM(ctx, X_RETRANSMITTED), again, 3) < 0) return -1;
    }
    PyObject *payload = PKT(p, P_PAYLOAD);
    if (!ln || rel < 0 || !PyBytes_Check(payload) || !PyBytes_GET_SIZE(payload)) return 0;
    /* _segment: in order and within what is delivered, straight to _deliver */
    long long next, end, stop = rel + PyBytes_GET_SIZE(payload);
    if (SLOT(ep, ep_at[E_STREAM]) == Py_None) {
        if (need_ll(SLOT(ep, ep_at[E_NEXT]), &next) < 0 ||
            need_ll(PyTuple_GET_ITEM(ctx, X_END), &end) < 0)
            return -1;
        if (rel == next && stop <= end) {
            if (put_or_share(ep, ep_at[E_NEXT], stop, SLOT(ep, ep_at[E_LAST])) < 0) return -1;
            PyObject *deliver[4] = {f, orig, payload, ts};
            return call(PyTuple_GET_ITEM(ctx, X_DELIVER), deliver, 4);
        }
    }
    PyObject *segment[6] = {f, ep, orig, NULL, payload, ts};
    return call_with_int(PyTuple_GET_ITEM(ctx, X_SEGMENT), segment, 6, 3, rel);
}

/* Engine._tcp for a packet of a live flow: the counters, then _tcp_full or the common case. */
static int tcp(PyObject *ctx, PyObject *f, PyObject *conn, PyObject *p, int is_orig,
               long long flags) {
    PyObject *ep = SLOT(f, flow_at[is_orig ? F_ORIG : F_RESP]);
    PyObject *peer = SLOT(f, flow_at[is_orig ? F_RESP : F_ORIG]);
    long long ip_len, state, peer_state;
    if (Py_TYPE(ep) != ep_type || Py_TYPE(peer) != ep_type) {
        PyErr_SetString(PyExc_TypeError, "a TCP flow without its endpoints");
        return -1;
    }
    if (need_ll(PKT(p, P_IP_LEN), &ip_len) < 0 ||
        add(conn, conn_at[is_orig ? C_ORIG_PKTS : C_RESP_PKTS], 1) < 0 ||
        add(conn, conn_at[is_orig ? C_ORIG_IP : C_RESP_IP], ip_len) < 0 ||
        need_ll(SLOT(ep, ep_at[E_STATE]), &state) < 0 ||
        need_ll(SLOT(peer, ep_at[E_STATE]), &peer_state) < 0)
        return -1;
    int r;
    Py_INCREF(ep);
    Py_INCREF(peer);
    if (flags & (SYN | FIN | RST) || SLOT(ep, ep_at[E_DID_CLOSE]) != Py_False ||
        state <= INACTIVE || state >= CLOSED || peer_state == INACTIVE) {
        PyObject *argv[6] = {f, is_orig ? Py_True : Py_False, p, PKT(p, P_TS), ep, peer};
        r = call(PyTuple_GET_ITEM(ctx, X_TCP_FULL), argv, 6);
    } else {
        r = tcp_common(ctx, f, conn, ep, peer, p, is_orig, flags);
    }
    Py_DECREF(peer);
    Py_DECREF(ep);
    return r;
}

/* flow_packet(packet, context, next_sweep, split_from) -> bool
 * True: the packet went through the engine as run would take it; False: nothing was done, run
 * takes it (another transport, a new flow, a SYN without ACK (run checks whether it starts the
 * connection anew), a fragment, a deadline or sweep due). */
PyObject *flow_packet(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || flow_type == NULL || packet_type == NULL || !PyTuple_Check(args[1]) ||
        PyTuple_GET_SIZE(args[1]) != N_CTX || Py_TYPE(args[0]) != packet_type) {
        PyErr_SetString(PyExc_TypeError, "flow_packet(Packet, context, next_sweep, split_from) "
                                         "after set_packet_type() and set_flow_types()");
        return NULL;
    }
    PyObject *p = args[0], *ctx = args[1];
    long long proto, ts, next_sweep, flags;
    int is_orig;
    if (!as_ll(PKT(p, P_PROTO), &proto) || (proto != 6 && proto != 17) ||
        !as_ll(PKT(p, P_TS), &ts) || !as_ll(args[2], &next_sweep) || ts >= next_sweep ||
        !as_ll(PKT(p, P_FLAGS), &flags) || (proto == 6 && (flags & (SYN | ACK)) == SYN) ||
        PKT(p, P_FRAG) != Py_False)
        Py_RETURN_FALSE;
    int tcp_flow = proto == 6;
    PyObject *f = lookup(PyTuple_GET_ITEM(ctx, tcp_flow ? X_TCP : X_UDP), PKT(p, P_KEY), &is_orig);
    if (f == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_FALSE;
    }
    PyObject *conn = SLOT(f, flow_at[F_CONN]);
    if (Py_TYPE(f) != flow_type || Py_TYPE(conn) != conn_type ||
        !goes_on(f, conn, ts, PyTuple_GET_ITEM(ctx, tcp_flow ? X_TCP_IDLE : X_UDP_IDLE),
                 PyTuple_GET_ITEM(ctx, X_ACTIVE), args[3]))
        Py_RETURN_FALSE;
    Py_INCREF(f);  /* held while Python code runs: nothing may free them meanwhile */
    Py_INCREF(conn);
    int r;
    if (tcp_flow) {
        r = tcp(ctx, f, conn, p, is_orig, flags);
    } else {
        PyObject *argv[4] = {f, is_orig ? Py_True : Py_False, p, PKT(p, P_TS)};
        r = call(PyTuple_GET_ITEM(ctx, X_DATAGRAM), argv, 4);
    }
    Py_DECREF(conn);
    Py_DECREF(f);
    if (r < 0) return NULL;
    Py_RETURN_TRUE;
}
