/* The merge's duplicate check compiled (capture/merge.py: Dedupe, packet_key, MergedStreams._kept).
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

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

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

typedef struct { uint64_t key; long long ts; int source, used; } Slot;
typedef struct { long long ts; uint64_t key; } Seen;

typedef struct {
    PyObject_HEAD
    long long window;
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

static int ring_push(Deduper *d, long long ts, uint64_t key) {
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
static int duplicate(Deduper *d, uint64_t key, long long ts, int source) {
    long long horizon = ts - d->window;
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
    long long window;
    Py_buffer secret;
    if (!PyArg_ParseTuple(args, "Ly*", &window, &secret)) return -1;
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
    unsigned long long key;
    long long ts;
    int source;
    if (!PyArg_ParseTuple(args, "KLi", &key, &ts, &source)) return NULL;
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
                int dup = duplicate(self, key, (long long)ts, source);
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
