/* The merge's per-record work compiled (capture/merge.py): the duplicate check (Dedupe, packet_key,
 * MergedStreams._kept) and the reorder heap (RecordHeap).
 *
 * A node capture on `any` sees a pod's packet on its veth and again on the bridge, and two pods'
 * captures both see the packets between them: each record is keyed by a hash of its IP packet
 * without what changes on the way (TTL/hop limit, the IP header checksum, the TCP/UDP checksum,
 * link padding after the IP length), and a key seen again from another source within the window
 * is a duplicate. In Python that hash sliced and hashed every packet's bytes (~5 us a packet).
 *
 * The hash is keyed by a per-process secret (as Python's own hash is), so that nobody can craft
 * a packet whose key matches another's and have it dropped as a duplicate of it. Keys of this
 * hash and of the Python one never meet: a run uses one or the other for all of its records.
 */
#include "_speedups.h"

/* ---- the keyed hash (after wyhash: 64x64 -> 128-bit multiplies folded) ---- */

typedef struct { uint64_t s0, s1; } Secret;

static inline uint64_t fold(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* h and the n bytes at p; the length is part of it, so that where one range ends counts */
static uint64_t hash_bytes(const Secret *s, uint64_t h, const uint8_t *p, Py_ssize_t n) {
    if (n < 0) n = 0;
    h = fold(h ^ s->s0, (uint64_t)n ^ s->s1);
    if (n >= 32) {  /* two lanes: each fold waits for the one before it in its lane only */
        uint64_t g = h ^ s->s1;
        for (; n >= 32; p += 32, n -= 32) {
            h = fold(load64(p) ^ s->s0, load64(p + 8) ^ h);
            g = fold(load64(p + 16) ^ s->s1, load64(p + 24) ^ g);
        }
        h = fold(h ^ s->s0, g);
    }
    for (; n >= 16; p += 16, n -= 16)
        h = fold(load64(p) ^ s->s0, load64(p + 8) ^ h);
    if (n >= 8) {
        h = fold(load64(p) ^ s->s1, h ^ s->s0);
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t v = 0;
        memcpy(&v, p, (size_t)n);
        h = fold(v ^ s->s0, h ^ s->s1);
    }
    return h;
}


/* merge.packet_key's fields over the IP packet at b[ip:end]; 0 if it is not IP */
static int packet_key(const Secret *s, const uint8_t *b, Py_ssize_t ip, Py_ssize_t end,
                      uint64_t *key) {
    if (ip < 0 || end - ip < 20) return 0;
    Py_ssize_t stop, t, addrs, at = -1;
    uint64_t h;
    int proto;
    if (b[ip] >> 4 == 4) {
        Py_ssize_t total = be16(b + ip + 2);
        stop = total && ip + total < end ? ip + total : end;
        t = ip + ((b[ip] & 15) << 2);
        proto = b[ip + 9];
        if ((be16(b + ip + 6) & 0x1FFF) == 0) at = proto == 6 ? 16 : proto == 17 ? 6 : -1;
        h = hash_bytes(s, 4, b + ip, 8);  /* version ... flags/offset; TTL and checksum not */
        addrs = ip + 12;
    } else if (b[ip] >> 4 == 6 && end - ip >= 40) {
        Py_ssize_t plen = be16(b + ip + 4);
        stop = plen && ip + 40 + plen < end ? ip + 40 + plen : end;
        t = ip + 40;
        proto = b[ip + 6];
        at = proto == 6 ? 16 : proto == 17 ? 6 : -1;
        h = hash_bytes(s, 6, b + ip, 7);  /* version ... next header; hop limit not */
        addrs = ip + 8;
    } else {
        return 0;
    }
    h = fold(h ^ (uint64_t)proto, s->s1);
    if (at >= 0 && t + at + 2 <= stop) {
        Py_ssize_t sum = t + at;
        h = hash_bytes(s, h, b + addrs, sum - addrs);
        h = hash_bytes(s, h, b + sum + 2, stop - sum - 2);
    } else {
        h = hash_bytes(s, h, b + addrs, stop - addrs);
    }
    *key = h;
    return 1;
}

/* ---- the window of keys seen: an open-addressing table and the arrival order ---- */

typedef struct { uint64_t key; unsigned long long ts; int source, used; } Slot;
typedef struct { unsigned long long ts; uint64_t key; } Seen;

typedef struct {
    PyObject_HEAD
    unsigned long long window;
    Secret secret;
    Slot *slots;
    size_t cap, count;  /* cap: a power of two, at least twice count */
    Seen *ring;
    size_t rcap, rhead, rlen;  /* rcap: a power of two */
} Deduper;

static inline size_t home(const Deduper *d, uint64_t key) {
    return (size_t)(key * 0x9E3779B97F4A7C15ULL >> 20) & (d->cap - 1);
}

static Slot *find(const Deduper *d, uint64_t key) {
    for (size_t i = home(d, key);; i = (i + 1) & (d->cap - 1)) {
        if (!d->slots[i].used) return NULL;
        if (d->slots[i].key == key) return &d->slots[i];
    }
}

static void slot_delete(Deduper *d, size_t i) {
    size_t mask = d->cap - 1;
    for (size_t j = (i + 1) & mask; d->slots[j].used; j = (j + 1) & mask) {
        size_t h = home(d, d->slots[j].key);
        /* the entry at j may move back to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            d->slots[i] = d->slots[j];
            i = j;
        }
    }
    d->slots[i].used = 0;
    d->count--;
}

static int grow_table(Deduper *d) {
    size_t cap = d->cap ? d->cap * 2 : 1024;
    Slot *old = d->slots, *slots = PyMem_Calloc(cap, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t oldcap = d->cap;
    d->slots = slots;
    d->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].used) continue;
        size_t j = home(d, old[i].key);
        while (slots[j].used) j = (j + 1) & (cap - 1);
        slots[j] = old[i];
    }
    PyMem_Free(old);
    return 0;
}

static int ring_push(Deduper *d, unsigned long long ts, uint64_t key) {
    if (d->rlen == d->rcap) {
        size_t cap = d->rcap ? d->rcap * 2 : 1024;
        Seen *ring = PyMem_Malloc(cap * sizeof(Seen));
        if (ring == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < d->rlen; i++) ring[i] = d->ring[(d->rhead + i) & (d->rcap - 1)];
        PyMem_Free(d->ring);
        d->ring = ring;
        d->rcap = cap;
        d->rhead = 0;
    }
    d->ring[(d->rhead + d->rlen) & (d->rcap - 1)] = (Seen){ts, key};
    d->rlen++;
    return 0;
}

/* Dedupe.duplicate: 1 if already delivered, 0 if not (now remembered), -1 on an error */
static int duplicate(Deduper *d, uint64_t key, unsigned long long ts, int source) {
    unsigned long long horizon = ts > d->window ? ts - d->window : 0;
    while (d->rlen && d->ring[d->rhead].ts < horizon) {
        Seen old = d->ring[d->rhead];
        d->rhead = (d->rhead + 1) & (d->rcap - 1);
        d->rlen--;
        Slot *s = find(d, old.key);
        if (s != NULL && s->ts == old.ts) slot_delete(d, (size_t)(s - d->slots));
    }
    Slot *s = find(d, key);
    if (s != NULL && s->ts >= horizon && (source < 0 || s->source != source)) return 1;
    if (s == NULL) {
        if ((d->count + 1) * 2 > d->cap && grow_table(d) < 0) return -1;
        size_t i = home(d, key);
        while (d->slots[i].used) i = (i + 1) & (d->cap - 1);
        s = &d->slots[i];
        s->key = key;
        s->used = 1;
        d->count++;
    }
    s->ts = ts;
    s->source = source;
    return ring_push(d, ts, key);
}

/* ---- the Python type ---- */

static int Deduper_init(Deduper *self, PyObject *args, PyObject *kwds) {
    unsigned long long window;
    Py_buffer secret;
    if (!PyArg_ParseTuple(args, "Ky*", &window, &secret)) return -1;
    if (secret.len != 16) {
        PyBuffer_Release(&secret);
        PyErr_SetString(PyExc_ValueError, "the secret is 16 bytes");
        return -1;
    }
    memcpy(&self->secret.s0, secret.buf, 8);
    memcpy(&self->secret.s1, (const char *)secret.buf + 8, 8);
    PyBuffer_Release(&secret);
    self->window = window;
    if (self->cap == 0 && grow_table(self) < 0) return -1;
    return 0;
}

static void Deduper_dealloc(Deduper *self) {
    PyMem_Free(self->slots);
    PyMem_Free(self->ring);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* duplicate(key, ts, source) -> bool, as merge.Dedupe.duplicate */
static PyObject *Deduper_duplicate(Deduper *self, PyObject *args) {
    unsigned long long key, ts;
    int source;
    if (!PyArg_ParseTuple(args, "KKi", &key, &ts, &source)) return NULL;
    int dup = duplicate(self, key, ts, source);
    if (dup < 0) return NULL;
    return PyBool_FromLong(dup);
}

/* packet_key(buf, ip, end) -> int | None, as merge.packet_key (with this run's secret) */
static PyObject *Deduper_packet_key(Deduper *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t ip, end;
    if (!PyArg_ParseTuple(args, "y*nn", &buf, &ip, &end)) return NULL;
    uint64_t key;
    int ok = ip >= 0 && end <= buf.len && packet_key(&self->secret, buf.buf, ip, end, &key);
    PyBuffer_Release(&buf);
    if (!ok) Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(key);
}

/* kept(records, fixed, sources, locate) -> (kept, duplicates)
 * MergedStreams._kept's loop: the records that are no duplicates, in order. sources[iface] is
 * the record's source for the check (-1: a cooked interface, where any repeat is one), or None
 * where no check is made; fixed[iface] is FIXED_HEADERS' (link length, ethertype offset) or
 * None; where that does not find IPv4 or IPv6, locate(iface, buf, start, end) gives the IP
 * offset (-1: not IP). */
static PyObject *Deduper_kept(Deduper *self, PyObject *args) {
    PyObject *records, *fixed, *sources, *locate;
    if (!PyArg_ParseTuple(args, "O!O!O!O", &PyList_Type, &records, &PyList_Type, &fixed,
                          &PyList_Type, &sources, &locate))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(records), dups = 0;
    PyObject *kept = PyList_New(0);
    if (kept == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        unsigned long long ts;
        Py_ssize_t iface, start, end, buflen, ip = -1;
        const uint8_t *b;
        if (unpack_record(rec, &ts, &iface, &b, &start, &end, &buflen) < 0) goto error;
        PyObject *src = iface >= 0 && iface < PyList_GET_SIZE(sources)
                            ? PyList_GET_ITEM(sources, iface) : Py_None;
        if (src != Py_None) {
            int source = PyLong_AsLong(src);
            if (source == -1 && PyErr_Occurred()) goto error;
            PyObject *f = iface < PyList_GET_SIZE(fixed) ? PyList_GET_ITEM(fixed, iface) : NULL;
            if (f != NULL && PyTuple_Check(f) && PyTuple_GET_SIZE(f) == 2) {
                Py_ssize_t link = PyLong_AsSsize_t(PyTuple_GET_ITEM(f, 0));
                Py_ssize_t etype = PyLong_AsSsize_t(PyTuple_GET_ITEM(f, 1));
                if (PyErr_Occurred()) goto error;
                if (etype >= 0 && etype + 2 <= link && end - start > link) {
                    unsigned e = be16(b + start + etype), v = b[start + link] >> 4;
                    if ((e == 0x0800 && v == 4) || (e == 0x86DD && v == 6)) ip = start + link;
                }
            }
            if (ip < 0) {
                PyObject *at = PyObject_CallFunction(locate, "nOnn", iface,
                                                     PyTuple_GET_ITEM(rec, 2), start, end);
                if (at == NULL) goto error;
                ip = PyLong_AsSsize_t(at);
                Py_DECREF(at);
                if (ip == -1 && PyErr_Occurred()) goto error;
            }
            uint64_t key;
            if (ip >= start && packet_key(&self->secret, b, ip, end, &key)) {
                int dup = duplicate(self, key, ts, source);
                if (dup < 0) goto error;
                if (dup) {
                    dups++;
                    continue;
                }
            }
        }
        if (PyList_Append(kept, rec) < 0) goto error;
    }
    return Py_BuildValue("Nn", kept, dups);
error:
    Py_DECREF(kept);
    return NULL;
}

static PyMethodDef Deduper_methods[] = {
    {"duplicate", (PyCFunction)Deduper_duplicate, METH_VARARGS,
     "Whether this key was already delivered from another source; if not, remember it."},
    {"packet_key", (PyCFunction)Deduper_packet_key, METH_VARARGS,
     "The packet's key (None if not IP)."},
    {"kept", (PyCFunction)Deduper_kept, METH_VARARGS,
     "The records that are no duplicates, and how many were."},
    {NULL, NULL, 0, NULL}};

PyTypeObject DeduperType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kubectl_netmon.capture._speedups.Deduper",
    .tp_doc = "Deduper(window_ns, secret): merge.Dedupe with a compiled keyed packet hash.",
    .tp_basicsize = sizeof(Deduper),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Deduper_init,
    .tp_dealloc = (destructor)Deduper_dealloc,
    .tp_methods = Deduper_methods,
};


/* ---- the reorder heap: records of several streams in (capture time, arrival) order ---- */

typedef struct { unsigned long long ts, seq; PyObject *rec; } Held;

typedef struct {
    PyObject_HEAD
    Held *items;
    size_t n, cap;
    unsigned long long seq;
} RecordHeap;

static inline int before(const Held *a, const Held *b) {
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static void sift_up(Held *h, size_t i) {
    Held x = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&x, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static void sift_down(Held *h, size_t n, size_t i) {
    Held x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&h[c + 1], &h[c])) c++;
        if (!before(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* push(records): hold each record */
static PyObject *RecordHeap_push(RecordHeap *self, PyObject *records) {
    if (!PyList_Check(records)) {
        PyErr_SetString(PyExc_TypeError, "records must be a list");
        return NULL;
    }
    Py_ssize_t k = PyList_GET_SIZE(records);
    if (self->n + (size_t)k > self->cap) {
        size_t cap = self->cap ? self->cap : 1024;
        while (cap < self->n + (size_t)k) cap *= 2;
        Held *items = PyMem_Realloc(self->items, cap * sizeof(Held));
        if (items == NULL) return PyErr_NoMemory();
        self->items = items;
        self->cap = cap;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        unsigned long long ts;
        Py_ssize_t iface, start, end, buflen;
        const uint8_t *data;
        if (unpack_record(rec, &ts, &iface, &data, &start, &end, &buflen) < 0) return NULL;
        Py_INCREF(rec);
        self->items[self->n] = (Held){ts, ++self->seq, rec};
        sift_up(self->items, self->n++);
    }
    Py_RETURN_NONE;
}

/* the oldest record, out of the heap (its reference passes to the caller) */
static PyObject *pop_oldest(RecordHeap *self) {
    PyObject *rec = self->items[0].rec;
    if (--self->n) {
        self->items[0] = self->items[self->n];
        sift_down(self->items, self->n, 0);
    }
    return rec;
}

/* pop_through(floor, max_held) -> list: the held records at or below floor, and the oldest
 * beyond max_held, oldest first */
static PyObject *RecordHeap_pop_through(RecordHeap *self, PyObject *args) {
    PyObject *bound;
    Py_ssize_t max_held;
    if (!PyArg_ParseTuple(args, "O!n", &PyLong_Type, &bound, &max_held)) return NULL;
    int overflow;
    long long small = PyLong_AsLongLongAndOverflow(bound, &overflow);
    int any = overflow > 0 || (!overflow && small >= 0);  /* a negative floor lets none go */
    unsigned long long floor = overflow > 0 ? PyLong_AsUnsignedLongLong(bound)
                               : any ? (unsigned long long)small : 0;
    if (PyErr_Occurred()) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    while (self->n && ((any && self->items[0].ts <= floor) || self->n > (size_t)max_held)) {
        PyObject *rec = pop_oldest(self);
        int failed = PyList_Append(out, rec);
        Py_DECREF(rec);
        if (failed) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* drain() -> list: everything held, oldest first */
static PyObject *RecordHeap_drain(RecordHeap *self, PyObject *unused) {
    PyObject *out = PyList_New((Py_ssize_t)self->n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; self->n; i++) PyList_SET_ITEM(out, i, pop_oldest(self));
    return out;
}

static Py_ssize_t RecordHeap_len(RecordHeap *self) {
    return (Py_ssize_t)self->n;
}

static void RecordHeap_dealloc(RecordHeap *self) {
    for (size_t i = 0; i < self->n; i++) Py_DECREF(self->items[i].rec);
    PyMem_Free(self->items);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef RecordHeap_methods[] = {
    {"push", (PyCFunction)RecordHeap_push, METH_O, "Hold these records."},
    {"pop_through", (PyCFunction)RecordHeap_pop_through, METH_VARARGS,
     "The held records at or below floor, and the oldest beyond max_held, oldest first."},
    {"drain", (PyCFunction)RecordHeap_drain, METH_NOARGS, "Everything held, oldest first."},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods RecordHeap_sequence = {.sq_length = (lenfunc)RecordHeap_len};

PyTypeObject RecordHeapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kubectl_netmon.capture._speedups.RecordHeap",
    .tp_doc = "RecordHeap(): merge.RecordHeap compiled (records by capture time, then arrival).",
    .tp_basicsize = sizeof(RecordHeap),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)RecordHeap_dealloc,
    .tp_methods = RecordHeap_methods,
    .tp_as_sequence = &RecordHeap_sequence,
};
