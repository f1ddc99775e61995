/* Compiled fast paths of the per-packet loops (see capture/speedups.py for why and for the rules).
 *
 * Each function does exactly what the Python loop it stands in for does, for the common records,
 * and stops or leaves a None where that loop has more to say (damage, unusual headers): the
 * Python code stays the reference and handles everything else. Every offset read from the input
 * is checked against the buffer before use: the input is untrusted capture data.
 */
#include "_speedups.h"

#define EPB 6
#define MAX_IFACES 4096

static const char *const slot_names[N_SLOTS] = {
    "ts_ns", "iface", "key", "proto", "sport", "dport", "ip_len", "payload_len", "payload",
    "tcp_flags", "seq", "ack", "window", "frag"};
PyTypeObject *packet_type = NULL;
Py_ssize_t slot_at[N_SLOTS];

/* A record tuple (ts, iface, buf, start, end), with references of its own to iface and buf.
 * Untracked by the cycle collector: it holds ints and bytes only, so it can be in no cycle,
 * and a tracked one per packet made gen-0 collections run every few hundred packets. */
static PyObject *record(unsigned long long ts, PyObject *iface, PyObject *buf, Py_ssize_t start,
                        Py_ssize_t end) {
    PyObject *t = PyTuple_New(5);
    if (t == NULL) return NULL;
    PyObject *a = PyLong_FromUnsignedLongLong(ts), *s = PyLong_FromSsize_t(start),
             *e = PyLong_FromSsize_t(end);
    if (a == NULL || s == NULL || e == NULL) {
        Py_XDECREF(a); Py_XDECREF(s); Py_XDECREF(e); Py_DECREF(t);
        return NULL;
    }
    Py_INCREF(iface); Py_INCREF(buf);
    PyTuple_SET_ITEM(t, 0, a); PyTuple_SET_ITEM(t, 1, iface); PyTuple_SET_ITEM(t, 2, buf);
    PyTuple_SET_ITEM(t, 3, s); PyTuple_SET_ITEM(t, 4, e);
    PyObject_GC_UnTrack(t);
    return t;
}

typedef struct { PyObject *g; unsigned long long mul, div, off, snap; } Sect;

/* epbs(buf, pos, size, big, sect, out) -> (pos, count, last_ts)
 * The inner loop of PcapngReader._parse: every valid EPB wholly in buf[:size] from pos on is
 * appended to `out` as a record; stops at anything else, or at a timestamp this loop would have
 * to compute beyond 64 bits (the Python loop goes on from there). */
static PyObject *epbs(PyObject *self, PyObject *args) {
    PyObject *buf, *sect, *out;
    Py_ssize_t pos, size;
    int big;
    if (!PyArg_ParseTuple(args, "SnnpO!O!", &buf, &pos, &size, &big, &PyList_Type, &sect,
                          &PyList_Type, &out))
        return NULL;
    Py_ssize_t nsect = PyList_GET_SIZE(sect);
    if (nsect > MAX_IFACES) nsect = MAX_IFACES;
    Sect *sects = PyMem_Malloc(sizeof(Sect) * (nsect ? nsect : 1));
    if (sects == NULL) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nsect; i++) {
        PyObject *e = PyList_GET_ITEM(sect, i);
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 5) {
            PyMem_Free(sects);
            PyErr_SetString(PyExc_TypeError, "sect entries are (g, mul, div, off, snap)");
            return NULL;
        }
        sects[i].g = PyTuple_GET_ITEM(e, 0);
        sects[i].mul = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(e, 1));
        sects[i].div = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(e, 2));
        sects[i].off = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(e, 3));
        sects[i].snap = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(e, 4));
        if (PyErr_Occurred()) {  /* a negative offset, say: the Python loop handles it */
            PyErr_Clear();
            nsect = i;
            break;
        }
    }
    const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(buf);
    Py_ssize_t len = PyBytes_GET_SIZE(buf), n = 0;
    unsigned long long last = 0;
    if (size > len) size = len;
    if (pos < 0) pos = size;
    while (pos + 28 <= size) {
        const uint8_t *h = b + pos;
        uint32_t btype = rd32(h, big), blen = rd32(h + 4, big), a = rd32(h + 8, big);
        uint32_t cap = rd32(h + 20, big);
        Py_ssize_t end = pos + (Py_ssize_t)blen;
        if (btype != EPB || end > size || blen & 3 || blen < 32 || rd32(b + end - 4, big) != blen
            || a >= (uint32_t)nsect || (unsigned long long)cap + 32 > blen
            || cap > sects[a].snap)
            break;
        Sect *s = &sects[a];
        unsigned long long ts = (unsigned long long)rd32(h + 12, big) << 32 | rd32(h + 16, big);
        if (s->mul != 1 || s->div != 1 || s->off) {
            unsigned long long scaled;
            if (s->div == 0 || __builtin_mul_overflow(ts, s->mul, &scaled)
                || __builtin_add_overflow(scaled / s->div, s->off, &ts))
                break;
        }
        PyObject *r = record(ts, s->g, buf, pos + 28, pos + 28 + cap);
        if (r == NULL || PyList_Append(out, r) < 0) {
            Py_XDECREF(r);
            PyMem_Free(sects);
            return NULL;
        }
        Py_DECREF(r);
        last = ts;
        n++;
        pos = end;
    }
    PyMem_Free(sects);
    return Py_BuildValue("nnK", pos, n, last);
}

/* pcap_records(buf, pos, size, big, frac_ns, limit, out) -> (pos, count)
 * The inner loop of PcapReader._parse: every complete record with at most `limit` bytes. */
static PyObject *pcap_records(PyObject *self, PyObject *args) {
    PyObject *buf, *out;
    Py_ssize_t pos, size;
    int big;
    unsigned long long frac_ns, limit;
    if (!PyArg_ParseTuple(args, "SnnpKKO!", &buf, &pos, &size, &big, &frac_ns, &limit,
                          &PyList_Type, &out))
        return NULL;
    const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(buf);
    Py_ssize_t len = PyBytes_GET_SIZE(buf), n = 0;
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) return NULL;
    if (size > len) size = len;
    if (pos < 0) pos = size;
    while (pos + 16 <= size) {
        const uint8_t *h = b + pos;
        unsigned long long sec = rd32(h, big), frac = rd32(h + 4, big), incl = rd32(h + 8, big);
        Py_ssize_t end = pos + 16 + (Py_ssize_t)incl;
        if (end > size || incl > limit) break;
        PyObject *r = record(sec * 1000000000ULL + frac * frac_ns, zero, buf, pos + 16, end);
        if (r == NULL || PyList_Append(out, r) < 0) {
            Py_XDECREF(r);
            Py_DECREF(zero);
            return NULL;
        }
        Py_DECREF(r);
        n++;
        pos = end;
    }
    Py_DECREF(zero);
    return Py_BuildValue("nn", pos, n);
}

/* An int as unsigned 64 bits: PyLong_AsUnsignedLongLong goes through a byte array in CPython
 * 3.11, a cost per record; the digit loop of the signed conversion serves every timestamp
 * before 2262. -1 with an exception set when it is none. */
static unsigned long long as_u64(PyObject *o) {
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) return PyLong_AsUnsignedLongLong(o);
    if ((overflow < 0 || v < 0) && !PyErr_Occurred())
        PyErr_SetString(PyExc_OverflowError, "a negative value where an unsigned one belongs");
    return PyErr_Occurred() ? (unsigned long long)-1 : (unsigned long long)v;
}

/* The record's fields, checked: 4 <= start <= end <= len(buf) (its original length precedes
 * its data). Returns 0, or -1 with an exception set. */
int unpack_record(PyObject *rec, unsigned long long *ts, Py_ssize_t *iface,
                         const uint8_t **data, Py_ssize_t *start, Py_ssize_t *end,
                         Py_ssize_t *buflen) {
    if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) != 5) {
        PyErr_SetString(PyExc_TypeError, "records are (ts, iface, buf, start, end)");
        return -1;
    }
    PyObject *buf = PyTuple_GET_ITEM(rec, 2);
    if (!PyBytes_Check(buf)) {
        PyErr_SetString(PyExc_TypeError, "a record's buffer must be bytes");
        return -1;
    }
    *ts = as_u64(PyTuple_GET_ITEM(rec, 0));
    *iface = PyLong_AsSsize_t(PyTuple_GET_ITEM(rec, 1));
    *start = PyLong_AsSsize_t(PyTuple_GET_ITEM(rec, 3));
    *end = PyLong_AsSsize_t(PyTuple_GET_ITEM(rec, 4));
    if (PyErr_Occurred()) return -1;
    *data = (const uint8_t *)PyBytes_AS_STRING(buf);
    *buflen = PyBytes_GET_SIZE(buf);
    if (*start < 4 || *end < *start || *end > *buflen) {
        PyErr_SetString(PyExc_ValueError, "record outside its buffer");
        return -1;
    }
    return 0;
}

/* packet_comments(records, fixed, comments, until, ttl) -> (found, until, misses)
 * Recording._options for IPv4 behind a fixed-size link header: found[i] is the cached options
 * of the record's address pair, None where the pair is not cached or not found so (the Python
 * code fills those; `misses` counts them). The cache is cleared whenever a record's ts reaches
 * `until`. */
static PyObject *packet_comments(PyObject *self, PyObject *args) {
    PyObject *records, *fixed, *comments;
    unsigned long long until, ttl;
    if (!PyArg_ParseTuple(args, "O!O!O!KK", &PyList_Type, &records, &PyList_Type, &fixed,
                          &PyDict_Type, &comments, &until, &ttl))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(records), nfixed = PyList_GET_SIZE(fixed), misses = 0;
    PyObject *found = PyList_New(n);
    if (found == NULL) return NULL;
    /* the previous IPv4 record's address pair and what the cache gave for it: a run of
       packets between the same two addresses is looked up once */
    uint8_t last_pair[8];
    PyObject *last_opts = NULL;  /* borrowed from `comments`; NULL: no previous pair */
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long long ts;
        Py_ssize_t iface, start, end, buflen, link_len = 0, etype_at = -1;
        const uint8_t *b;
        if (unpack_record(PyList_GET_ITEM(records, i), &ts, &iface, &b, &start, &end,
                          &buflen) < 0) {
            Py_DECREF(found);
            return NULL;
        }
        if (ts >= until) {
            PyDict_Clear(comments);
            until = ts + ttl;
            last_opts = NULL;
        }
        PyObject *f = iface >= 0 && iface < nfixed ? PyList_GET_ITEM(fixed, iface) : NULL;
        if (f != NULL && PyTuple_Check(f) && PyTuple_GET_SIZE(f) == 2) {
            link_len = PyLong_AsSsize_t(PyTuple_GET_ITEM(f, 0));
            etype_at = PyLong_AsSsize_t(PyTuple_GET_ITEM(f, 1));
        }
        Py_ssize_t ip = start + link_len;
        PyObject *opts = NULL;
        if (link_len >= 0 && etype_at >= 0 && etype_at + 2 <= link_len && end - ip >= 20
            && b[ip] >> 4 == 4
            && b[start + etype_at] == 8 && b[start + etype_at + 1] == 0) {
            if (last_opts != NULL && memcmp(last_pair, b + ip + 12, 8) == 0) {
                opts = last_opts == Py_None ? NULL : last_opts;
            } else {
                PyObject *pair = PyBytes_FromStringAndSize((const char *)b + ip + 12, 8);
                if (pair == NULL) {
                    Py_DECREF(found);
                    return NULL;
                }
                opts = PyDict_GetItemWithError(comments, pair);
                Py_DECREF(pair);
                if (opts == NULL && PyErr_Occurred()) {
                    Py_DECREF(found);
                    return NULL;
                }
                memcpy(last_pair, b + ip + 12, 8);
                last_opts = opts != NULL ? opts : Py_None;
            }
        }
        if (opts == NULL) {
            opts = Py_None;
            misses++;
        }
        Py_INCREF(opts);
        PyList_SET_ITEM(found, i, opts);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(found);
        return NULL;
    }
    return Py_BuildValue("NKn", found, until, misses);
}

int slot_offsets(PyObject *type, const char *const *names, int n, Py_ssize_t *at) {
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "a class is needed");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *d = PyObject_GetAttrString(type, names[i]);
        if (d == NULL) return -1;
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            Py_DECREF(d);
            PyErr_Format(PyExc_TypeError, "%s is not a slot", names[i]);
            return -1;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        at[i] = m->offset;
        Py_DECREF(d);
        if (m->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "%s is not an object slot", names[i]);
            return -1;
        }
    }
    return 0;
}

/* set_packet_type(Packet): where each of its slots lives, so that packets() fills them as its
 * __init__ would (without running Python code per packet). */
static PyObject *set_packet_type(PyObject *self, PyObject *type) {
    if (slot_offsets(type, slot_names, N_SLOTS, slot_at) < 0) return NULL;
    Py_INCREF(type);
    Py_XSETREF(packet_type, (PyTypeObject *)type);
    Py_RETURN_NONE;
}

/* A Packet with the 14 values (references stolen; NULL in any: fails, releasing the rest). */
static PyObject *make_packet(PyObject **v) {
    PyObject *p = NULL;
    int ok = 1;
    for (int i = 0; i < N_SLOTS; i++) ok &= v[i] != NULL;
    if (ok) p = packet_type->tp_alloc(packet_type, 0);
    if (p == NULL) {
        for (int i = 0; i < N_SLOTS; i++) Py_XDECREF(v[i]);
        return NULL;
    }
    for (int i = 0; i < N_SLOTS; i++) *(PyObject **)((char *)p + slot_at[i]) = v[i];
    return p;
}

/* The ints of 16-bit header fields (ports, lengths, windows): every packet has several, and
 * they repeat, so each is made once and shared (never freed: at most 65,576 small objects). */
#define U16_INTS (65536 + 40)
static PyObject *u16_ints[U16_INTS];

static PyObject *u16_int(Py_ssize_t v) {
    if (v < 0 || v >= U16_INTS) return PyLong_FromSsize_t(v);
    PyObject *i = u16_ints[v];
    if (i == NULL && (i = u16_ints[v] = PyLong_FromSsize_t(v)) == NULL) return NULL;
    Py_INCREF(i);
    return i;
}

static PyObject *payload(const uint8_t *b, Py_ssize_t p, Py_ssize_t cend) {
    return PyBytes_FromStringAndSize((const char *)b + p, cend > p ? cend - p : 0);
}

/* The headers the fast paths read: where the key and payload are, and the fields. */
typedef struct {
    Py_ssize_t key_at, key_len, p, cend, total, ip_end, t;
    int proto;
    uint16_t sport, dport;
    uint32_t seq;
} headers;

/* The fast paths of decode._ipv4_fast_path/_ipv6_fast_path over one record: 1 with h filled,
 * 0 where those would hand it to the general decoder. */
static int fast_headers(const uint8_t *b, Py_ssize_t start, Py_ssize_t end, Py_ssize_t link_len,
                        Py_ssize_t etype_at, headers *h) {
    Py_ssize_t ip = start + link_len;
    if (link_len < 0 || etype_at < 0 || etype_at + 2 > link_len || end - start < link_len + 36)
        return 0;
    uint16_t etype = be16(b + start + etype_at);
    if (etype == 0x0800) {
        if (b[ip] != 0x45 || be16(b + ip + 6) & 0x3FFF) return 0;
        h->total = be16(b + ip + 2);
        h->proto = b[ip + 9];
        h->t = ip + 20;
        h->key_at = ip + 12;
        h->key_len = 12;
    } else if (etype == 0x86DD && end - start >= link_len + 56) {
        uint16_t plen = be16(b + ip + 4);
        if (b[ip] >> 4 != 6 || !plen) return 0;
        h->total = 40 + plen;
        h->proto = b[ip + 6];
        h->t = ip + 40;
        h->key_at = ip + 8;
        h->key_len = 36;
    } else {
        return 0;
    }
    Py_ssize_t t = h->t;
    h->ip_end = ip + h->total;
    h->cend = h->ip_end < end ? h->ip_end : end;
    h->sport = be16(b + t);
    h->dport = be16(b + t + 2);
    h->seq = be32(b + t + 4);
    if (h->proto == 6) {
        uint8_t doff = b[t + 12];
        h->p = t + ((doff >> 4) << 2);
        return doff >= 0x50 && h->p <= h->ip_end;
    }
    /* UDP: its length lands in the top half of seq */
    h->p = t + 8;
    return h->proto == 17 && 8 <= h->seq >> 16 && (Py_ssize_t)(h->seq >> 16) <= h->total - (t - ip);
}

/* One record as a Packet (fast_headers filled h); NULL on error. */
static PyObject *fast_packet(unsigned long long ts, PyObject *iface, const uint8_t *b,
                             const headers *h, PyObject *open_window) {
    PyObject *v[N_SLOTS];
    const uint8_t *t = b + h->t;
    if (h->proto == 6) {
        v[P_FLAGS] = PyLong_FromLong(t[13]);
        v[P_SEQ] = PyLong_FromUnsignedLong(h->seq);
        v[P_ACK] = PyLong_FromUnsignedLong(be32(t + 8));
        v[P_WINDOW] = u16_int(be16(t + 14));
    } else {
        v[P_FLAGS] = PyLong_FromLong(0);
        v[P_SEQ] = PyLong_FromLong(0);
        v[P_ACK] = PyLong_FromLong(0);
        Py_INCREF(open_window);
        v[P_WINDOW] = open_window;
    }
    v[P_TS] = PyLong_FromUnsignedLongLong(ts);
    Py_INCREF(iface);
    v[P_IFACE] = iface;
    v[P_KEY] = PyBytes_FromStringAndSize((const char *)b + h->key_at, h->key_len);
    v[P_PROTO] = PyLong_FromLong(h->proto);
    v[P_SPORT] = u16_int(h->sport);
    v[P_DPORT] = u16_int(h->dport);
    v[P_IP_LEN] = u16_int(h->total);
    v[P_PAYLOAD_LEN] = u16_int(h->proto == 6 ? h->ip_end - h->p : (Py_ssize_t)(h->seq >> 16) - 8);
    v[P_PAYLOAD] = payload(b, h->p, h->cend);
    Py_INCREF(Py_False);
    v[P_FRAG] = Py_False;
    return make_packet(v);
}

/* A record's fields and its interface's layout: 1 with both, 0 when the interface has no
 * layout (None), -1 on error. */
static int record_layout(PyObject *rec, PyObject *layouts, unsigned long long *ts,
                         const uint8_t **b, Py_ssize_t *start, Py_ssize_t *end,
                         Py_ssize_t *link_len, Py_ssize_t *etype_at) {
    Py_ssize_t iface, buflen, nl = PyList_GET_SIZE(layouts);
    if (unpack_record(rec, ts, &iface, b, start, end, &buflen) < 0) return -1;
    PyObject *layout = iface >= 0 && iface < nl ? PyList_GET_ITEM(layouts, iface) : Py_None;
    if (layout == Py_None) return 0;
    if (!PyTuple_Check(layout) || PyTuple_GET_SIZE(layout) != 2) {
        PyErr_SetString(PyExc_TypeError, "layouts are (link length, ethertype offset)");
        return -1;
    }
    *link_len = PyLong_AsSsize_t(PyTuple_GET_ITEM(layout, 0));
    *etype_at = PyLong_AsSsize_t(PyTuple_GET_ITEM(layout, 1));
    return PyErr_Occurred() ? -1 : 1;
}

/* packets(records, layouts, open_window) -> list
 * decode's fast paths over a batch: per record a Packet, or None where the general decoder must
 * look (other link types, IP options, fragments, extension headers, other protocols, short or
 * odd headers). layouts[iface] = (link header length, ethertype offset), or None. */
static PyObject *packets(PyObject *self, PyObject *args) {
    PyObject *records, *layouts, *open_window;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &records, &PyList_Type, &layouts,
                          &open_window))
        return NULL;
    if (packet_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_packet_type() first");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(records);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = PyList_GET_ITEM(records, i), *p = Py_None;
        unsigned long long ts;
        Py_ssize_t start, end, link_len, etype_at;
        const uint8_t *b;
        headers h;
        int known = record_layout(rec, layouts, &ts, &b, &start, &end, &link_len, &etype_at);
        if (known < 0) {
            Py_DECREF(out);
            return NULL;
        }
        if (known && fast_headers(b, start, end, link_len, etype_at, &h)) {
            p = fast_packet(ts, PyTuple_GET_ITEM(rec, 1), b, &h, open_window);
            if (p == NULL) {
                Py_DECREF(out);
                return NULL;
            }
        } else {
            Py_INCREF(p);
        }
        PyList_SET_ITEM(out, i, p);
    }
    return out;
}

/* undecoded(records, layouts) -> list[int]
 * The positions of the records packets() would leave to the general decoder: the others decode
 * by the fast paths, so counting them needs no Packet. */
static PyObject *undecoded(PyObject *self, PyObject *args) {
    PyObject *records, *layouts;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &records, &PyList_Type, &layouts))
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0, n = PyList_GET_SIZE(records); i < n; i++) {
        unsigned long long ts;
        Py_ssize_t start, end, link_len, etype_at;
        const uint8_t *b;
        headers h;
        int known = record_layout(PyList_GET_ITEM(records, i), layouts, &ts, &b, &start, &end,
                                  &link_len, &etype_at);
        if (known < 0) {
            Py_DECREF(out);
            return NULL;
        }
        if (known && fast_headers(b, start, end, link_len, etype_at, &h)) continue;
        PyObject *at = PyLong_FromSsize_t(i);
        if (at == NULL || PyList_Append(out, at) < 0) {
            Py_XDECREF(at);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(at);
    }
    return out;
}

PyObject *key_reversed(PyObject *key) {
    if (!PyBytes_Check(key) || (PyBytes_GET_SIZE(key) != 12 && PyBytes_GET_SIZE(key) != 36)) {
        PyErr_SetString(PyExc_ValueError, "a packet key has 12 or 36 bytes");
        return NULL;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(key), half = (n - 4) / 2;
    const char *k = PyBytes_AS_STRING(key);
    PyObject *r = PyBytes_FromStringAndSize(NULL, n);
    if (r == NULL) return NULL;
    char *w = PyBytes_AS_STRING(r);
    memcpy(w, k + half, half);
    memcpy(w + half, k, half);
    memcpy(w + n - 4, k + n - 2, 2);
    memcpy(w + n - 2, k + n - 4, 2);
    return r;
}

/* reverse_key(key) -> bytes: model.reverse_key (addresses and ports swapped), for the flow
 * table's every responder packet. */
static PyObject *reverse_key(PyObject *self, PyObject *key) {
    return key_reversed(key);
}

static PyMethodDef methods[] = {
    {"reverse_key", reverse_key, METH_O, "A packet key with addresses and ports swapped."},
    {"epbs", epbs, METH_VARARGS, "The valid EPBs of a buffer as records."},
    {"pcap_records", pcap_records, METH_VARARGS, "The complete pcap records of a buffer."},
    {"epb_gather", epb_gather, METH_VARARGS, "EPBs of records with their options, gathered."},
    {"packet_comments", packet_comments, METH_VARARGS, "Cached comment options per record."},
    {"set_packet_type", set_packet_type, METH_O, "The Packet slot class packets() fills."},
    {"packets", packets, METH_VARARGS, "Packets by the decoder's fast paths, None elsewhere."},
    {"undecoded", undecoded, METH_VARARGS, "Positions of the records the fast paths leave."},
    {"set_flow_types", set_flow_types, METH_VARARGS, "The Flow, Conn and TcpEndpoint classes."},
    {"flow_packet", (PyCFunction)(void (*)(void))flow_packet, METH_FASTCALL,
     "One TCP/UDP packet of a live flow through the engine's common case; False: not taken."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups",
                                    "Compiled fast paths of the per-packet loops.", -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyTypeObject *types[] = {&DeduperType, &RecordHeapType, &GatherType, &FileWriterType};
    for (int i = 0; i < 4; i++)
        if (PyType_Ready(types[i]) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    for (int i = 0; i < 4; i++) {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, strrchr(types[i]->tp_name, '.') + 1, (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
