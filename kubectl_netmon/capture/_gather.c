/* Writing a recording without copying its packets, and without the GIL.
 *
 * epb_gather(records, options, ifaces) -> Gather: PcapngWriter.write_batch's blocks as a list of
 * pieces (iovecs): the packet data where the records are (their buffers, referenced), the block
 * headers, paddings, options and trailing lengths in one small buffer of the Gather's own.
 * bytes(gather) joins them (what the Python writer writes).
 *
 * FileWriter(fd, depth): output.filethread.ThreadedFile in C. write() hands bytes or a Gather to
 * a thread that writes them to fd in order (writev; the thread never touches a Python object,
 * so it runs without the GIL); the handed-over objects are released by the caller's next call.
 * At most `depth` writes wait; write() then waits for the disk. One Python thread calls it (the
 * recording's); unlike ThreadedFile, calls from several are not serialised.
 */
#include "_speedups.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#define EPB 6
#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

typedef struct {
    PyObject_HEAD
    struct iovec *iov;
    Py_ssize_t niov, total;
    uint8_t *meta;   /* every block's own bytes: header, padding, options, trailing length */
    PyObject **refs; /* the record buffers the iovecs point into */
    Py_ssize_t nrefs;
} Gather;

static void gather_dealloc(Gather *g) {
    for (Py_ssize_t i = 0; i < g->nrefs; i++) Py_DECREF(g->refs[i]);
    PyMem_Free(g->refs);
    PyMem_Free(g->iov);
    PyMem_Free(g->meta);
    Py_TYPE(g)->tp_free((PyObject *)g);
}

static Py_ssize_t gather_len(Gather *g) { return g->total; }

static PyObject *gather_bytes(Gather *g, PyObject *unused) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, g->total);
    if (out == NULL) return NULL;
    char *w = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < g->niov; i++) {
        memcpy(w, g->iov[i].iov_base, g->iov[i].iov_len);
        w += g->iov[i].iov_len;
    }
    return out;
}

/* A piece of the output: glued to the previous one where it goes on in memory (a block's
 * trailer and the next block's header are one piece). */
static void add_piece(Gather *g, const void *base, size_t len) {
    if (len == 0) return;
    struct iovec *last = g->niov ? &g->iov[g->niov - 1] : NULL;
    if (last != NULL && (const uint8_t *)last->iov_base + last->iov_len == (const uint8_t *)base) {
        last->iov_len += len;
    } else {
        g->iov[g->niov].iov_base = (void *)base;
        g->iov[g->niov].iov_len = len;
        g->niov++;
    }
    g->total += (Py_ssize_t)len;
}

/* epb_gather(records, options, ifaces) -> Gather
 * Per record an EPB (little-endian) with options[i] after its padded data. ifaces[i] =
 * PcapngWriter._ifaces[i]: (ts divisor, -, byte order "<"|">"). */
PyObject *epb_gather(PyObject *self, PyObject *args) {
    PyObject *records, *options, *ifaces;
    if (!PyArg_ParseTuple(args, "O!OO!", &PyList_Type, &records, &options, &PyList_Type,
                          &ifaces))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(records), nif = PyList_GET_SIZE(ifaces);
    Py_ssize_t own = 35 * n;  /* header, padding and trailer at most; the options added */
    if (options != Py_None && (!PyList_Check(options) || PyList_GET_SIZE(options) != n)) {
        PyErr_SetString(PyExc_ValueError, "one options entry per record");
        return NULL;
    }
    for (Py_ssize_t i = 0; options != Py_None && i < n; i++) {
        PyObject *o = PyList_GET_ITEM(options, i);
        if (!PyBytes_Check(o)) {
            PyErr_SetString(PyExc_TypeError, "packet options must be bytes");
            return NULL;
        }
        own += PyBytes_GET_SIZE(o);
    }
    Gather *g = PyObject_New(Gather, &GatherType);
    if (g == NULL) return NULL;
    g->niov = g->total = g->nrefs = 0;
    g->meta = PyMem_Malloc(own ? own : 1);
    g->iov = PyMem_Malloc(sizeof(struct iovec) * (2 * n + 1));
    g->refs = PyMem_Malloc(sizeof(PyObject *) * (n ? n : 1));
    if (g->meta == NULL || g->iov == NULL || g->refs == NULL) {
        Py_DECREF(g);
        return PyErr_NoMemory();
    }
    uint8_t *w = g->meta;
    Py_ssize_t last_iface = -1;  /* the interface whose divisor and byte order are at hand */
    unsigned long long div = 1;
    int big = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        unsigned long long ts;
        Py_ssize_t iface, start, end, buflen;
        const uint8_t *data;
        if (unpack_record(rec, &ts, &iface, &data, &start, &end, &buflen) < 0) goto fail;
        PyObject *buf = PyTuple_GET_ITEM(rec, 2);
        if (g->nrefs == 0 || g->refs[g->nrefs - 1] != buf) {
            Py_INCREF(buf);
            g->refs[g->nrefs++] = buf;
        }
        if (iface != last_iface) {
            if (iface < 0 || iface >= nif) {
                PyErr_Format(PyExc_ValueError, "interface %zd was not added", iface);
                goto fail;
            }
            PyObject *fi = PyList_GET_ITEM(ifaces, iface);
            if (!PyTuple_Check(fi) || PyTuple_GET_SIZE(fi) != 3
                || !PyLong_CheckExact(PyTuple_GET_ITEM(fi, 0))
                || !PyUnicode_CheckExact(PyTuple_GET_ITEM(fi, 2))) {
                PyErr_SetString(PyExc_TypeError, "ifaces entries are (ts divisor, -, byte order)");
                goto fail;
            }
            div = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(fi, 0));
            if (PyErr_Occurred()) goto fail;
            big = PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(fi, 2), ">") == 0;
            last_iface = iface;
        }
        if (div > 1) ts /= div;
        Py_ssize_t cap = end - start, pad = -cap & 3, opts = 0;
        const char *o = NULL;
        if (options != Py_None) {
            PyObject *ob = PyList_GET_ITEM(options, i);
            o = PyBytes_AS_STRING(ob);
            opts = PyBytes_GET_SIZE(ob);
        }
        uint32_t length = (uint32_t)(32 + cap + pad + opts);
        uint32_t wire = rd32(data + start - 4, big);
        uint8_t *head = w;
        put32(w, EPB); put32(w + 4, length); put32(w + 8, (uint32_t)iface);
        put32(w + 12, (uint32_t)(ts >> 32)); put32(w + 16, (uint32_t)ts);
        put32(w + 20, (uint32_t)cap); put32(w + 24, wire > (uint32_t)cap ? wire : (uint32_t)cap);
        w += 28;
        add_piece(g, head, 28);
        add_piece(g, data + start, cap);
        uint8_t *tail = w;
        memset(w, 0, pad);
        w += pad;
        if (opts) memcpy(w, o, opts);
        w += opts;
        put32(w, length);
        w += 4;
        add_piece(g, tail, w - tail);
    }
    return (PyObject *)g;
fail:
    Py_DECREF(g);
    return NULL;
}

static PySequenceMethods gather_as_sequence = {.sq_length = (lenfunc)gather_len};

static PyMethodDef gather_methods[] = {
    {"__bytes__", (PyCFunction)gather_bytes, METH_NOARGS, "The blocks joined."},
    {NULL, NULL, 0, NULL}};

PyTypeObject GatherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kubectl_netmon.capture._speedups.Gather",
    .tp_basicsize = sizeof(Gather),
    .tp_dealloc = (destructor)gather_dealloc,
    .tp_as_sequence = &gather_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Blocks as pieces in place (epb_gather); len() bytes, bytes() joined.",
    .tp_methods = gather_methods,
};

/* ---- FileWriter ---- */

typedef struct {
    PyObject_HEAD
    int fd;
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t more, written;
    PyObject **slots;     /* ring of `depth` handed-over objects */
    Py_ssize_t depth;
    /* counters that only grow: handed over, written, released (slot = counter % depth) */
    Py_ssize_t handed, done, released;
    int closing, failed, error; /* error: an errno not yet raised; failed: the rest is dropped */
} FileWriter;

/* Write all of iov[0:n] to fd, going on after partial writes, EINTR and a full non-blocking
 * descriptor (stdout may be one, set so by whoever shares it); 0, or an errno. */
static int write_all(int fd, const struct iovec *iov, Py_ssize_t n) {
    struct iovec part[IOV_MAX];
    while (n > 0) {
        int k = n < IOV_MAX ? (int)n : IOV_MAX;
        memcpy(part, iov, sizeof(struct iovec) * k);
        struct iovec *at = part;
        int left = k;
        while (left > 0) {
            ssize_t wrote = writev(fd, at, left);
            if (wrote < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {  /* a non-blocking pipe, full */
                    struct pollfd p = {fd, POLLOUT, 0};
                    if (poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
                }
                return errno;
            }
            while (left > 0 && (size_t)wrote >= at->iov_len) {
                wrote -= at->iov_len;
                at++;
                left--;
            }
            if (left > 0) {
                at->iov_base = (uint8_t *)at->iov_base + wrote;
                at->iov_len -= wrote;
            }
        }
        iov += k;
        n -= k;
    }
    return 0;
}

/* Reads only immutable fields of the object (bytes, Gather): no GIL needed. */
static int write_object(int fd, PyObject *obj) {
    if (Py_IS_TYPE(obj, &GatherType)) {
        Gather *g = (Gather *)obj;
        return write_all(fd, g->iov, g->niov);
    }
    struct iovec one = {PyBytes_AS_STRING(obj), (size_t)PyBytes_GET_SIZE(obj)};
    return write_all(fd, &one, 1);
}

static void *writer_thread(void *arg) {
    FileWriter *fw = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to Python's threads */
    pthread_mutex_lock(&fw->mu);
    for (;;) {
        while (fw->done == fw->handed && !fw->closing) pthread_cond_wait(&fw->more, &fw->mu);
        if (fw->done == fw->handed) break;
        PyObject *obj = fw->slots[fw->done % fw->depth];
        int failed = fw->failed;
        pthread_mutex_unlock(&fw->mu);
        int err = failed ? 0 : write_object(fw->fd, obj);
        pthread_mutex_lock(&fw->mu);
        if (err) {
            fw->failed = 1;
            fw->error = err;
        }
        fw->done++;
        pthread_cond_broadcast(&fw->written);
    }
    pthread_mutex_unlock(&fw->mu);
    return NULL;
}

/* Drop the references of the objects written (the GIL held). */
static void release_written(FileWriter *fw) {
    pthread_mutex_lock(&fw->mu);
    Py_ssize_t done = fw->done;
    pthread_mutex_unlock(&fw->mu);
    while (fw->released < done) {
        Py_CLEAR(fw->slots[fw->released % fw->depth]);
        fw->released++;
    }
}

/* Wait (without the GIL) until fewer than `most` (>= 1) objects wait to be written. */
static void wait_for_writes(FileWriter *fw, Py_ssize_t most) {
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&fw->mu);
    while (fw->handed - fw->done >= most)
        pthread_cond_wait(&fw->written, &fw->mu);
    pthread_mutex_unlock(&fw->mu);
    Py_END_ALLOW_THREADS
}

/* A failed write, raised once (by the next write, flush or close); 0 if none. */
static int raise_error(FileWriter *fw) {
    pthread_mutex_lock(&fw->mu);
    int err = fw->error;
    fw->error = 0;
    pthread_mutex_unlock(&fw->mu);
    if (!err) return 0;
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

static int writer_init(FileWriter *fw, PyObject *args, PyObject *kwds) {
    static char *names[] = {"fd", "depth", NULL};
    int fd;
    Py_ssize_t depth = 8;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|n", names, &fd, &depth)) return -1;
    if (fw->slots != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "FileWriter is initialised once");
        return -1;
    }
    if (fd < 0 || depth < 1) {
        PyErr_SetString(PyExc_ValueError, "FileWriter needs a file descriptor and a depth >= 1");
        return -1;
    }
    fw->slots = PyMem_Calloc(depth, sizeof(PyObject *));
    if (fw->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    fw->fd = fd;
    fw->depth = depth;
    pthread_mutex_init(&fw->mu, NULL);
    pthread_cond_init(&fw->more, NULL);
    pthread_cond_init(&fw->written, NULL);
    int err = pthread_create(&fw->thread, NULL, writer_thread, fw);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    fw->running = 1;
    return 0;
}

static PyObject *writer_write(FileWriter *fw, PyObject *obj) {
    if (!PyBytes_CheckExact(obj) && !Py_IS_TYPE(obj, &GatherType)) {
        PyErr_SetString(PyExc_TypeError, "FileWriter writes bytes or a Gather");
        return NULL;
    }
    if (!fw->running) {
        PyErr_SetString(PyExc_ValueError, "write to a closed FileWriter");
        return NULL;
    }
    if (raise_error(fw) < 0) return NULL;
    Py_ssize_t size = PyObject_Length(obj);
    release_written(fw);
    if (fw->handed - fw->released == fw->depth) {
        wait_for_writes(fw, fw->depth);
        release_written(fw);
    }
    Py_INCREF(obj);
    pthread_mutex_lock(&fw->mu);
    fw->slots[fw->handed % fw->depth] = obj;
    fw->handed++;
    pthread_cond_signal(&fw->more);
    pthread_mutex_unlock(&fw->mu);
    return PyLong_FromSsize_t(size);
}

static PyObject *writer_flush(FileWriter *fw, PyObject *unused) {
    wait_for_writes(fw, 1);
    release_written(fw);
    if (raise_error(fw) < 0) return NULL;
    Py_RETURN_NONE;
}

/* End the thread once everything handed over is written. */
static void stop(FileWriter *fw) {
    if (!fw->running) return;
    pthread_mutex_lock(&fw->mu);
    fw->closing = 1;
    pthread_cond_signal(&fw->more);
    pthread_mutex_unlock(&fw->mu);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(fw->thread, NULL);
    Py_END_ALLOW_THREADS
    fw->running = 0;
    release_written(fw);
}

static PyObject *writer_close(FileWriter *fw, PyObject *unused) {
    stop(fw);
    if (raise_error(fw) < 0) return NULL;
    Py_RETURN_NONE;
}

static void writer_dealloc(FileWriter *fw) {
    if (fw->slots != NULL) {
        stop(fw);
        pthread_mutex_destroy(&fw->mu);
        pthread_cond_destroy(&fw->more);
        pthread_cond_destroy(&fw->written);
        PyMem_Free(fw->slots);
    }
    Py_TYPE(fw)->tp_free((PyObject *)fw);
}

static PyMethodDef writer_methods[] = {
    {"write", (PyCFunction)writer_write, METH_O,
     "Hand bytes or a Gather over (unchanged afterwards); returns its length."},
    {"flush", (PyCFunction)writer_flush, METH_NOARGS,
     "Return once everything handed over is written."},
    {"close", (PyCFunction)writer_close, METH_NOARGS,
     "Write what is left and end the thread; the file descriptor stays open."},
    {NULL, NULL, 0, NULL}};

PyTypeObject FileWriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kubectl_netmon.capture._speedups.FileWriter",
    .tp_basicsize = sizeof(FileWriter),
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FileWriter(fd, depth=8): bytes and Gathers written to fd by a thread of its "
              "own, in order, without the GIL; a failed write is raised by the next call.",
    .tp_methods = writer_methods,
    .tp_init = (initproc)writer_init,
    .tp_new = PyType_GenericNew,
};
