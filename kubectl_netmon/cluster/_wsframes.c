/* The exec stream's receive loop over TLS, compiled (see cluster/channels.py for the rules).
 *
 * FrameReader reads the server's WebSocket frames straight off the TLS connection with
 * _ssl._SSLSocket.read(n, buffer): a frame header is read exactly (2, then 2 or 8 length bytes,
 * then the channel byte of a message), so that OpenSSL copies a stdout payload straight into
 * the chunk it is handed over in: no copy of ours, no Python per read. Every other
 * frame (stderr, the status on channel 3, ping, pong, close) goes to on_frame(opcode, channel,
 * payload, end), which ChannelReader.frame handles as ChannelReader.feed would.
 *
 * fill(limit) reads until the chunk holds `limit` stdout bytes, the server closes, or the
 * connection ends (eof); a read that raises (a non-blocking socket with nothing more, a
 * timeout, a drop) leaves the reader where it was, to go on after the caller waited.
 * take() hands the chunk over.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9,
       OP_PONG = 0xA };
#define STDOUT 1
#define NO_CHANNEL (-1) /* a data message whose channel byte has not been read yet */
#define PIECE 65536     /* other channels' payload is handed over in pieces of at most this */

typedef struct {
    PyObject_HEAD
    PyObject *read;     /* _ssl._SSLSocket.read */
    PyObject *on_frame; /* ChannelReader.frame */
    PyObject *error;    /* FrameError */
    PyObject *chunk;    /* the bytes being filled (not shared until take()), or NULL */
    Py_ssize_t used, cap;
    unsigned long long left; /* payload bytes of the current frame still to read */
    int opcode;              /* of the current frame; -1 between frames */
    int fin, in_message, channel, closed, eof;
    unsigned char head[10];
    int head_len;
    unsigned char control[125];
    int control_len;
} FrameReader;

/* One read of up to n bytes into dst: how many came (0: the connection ended), -1 raised. */
static Py_ssize_t read_into(FrameReader *r, void *dst, Py_ssize_t n) {
    PyObject *view = PyMemoryView_FromMemory(dst, n, PyBUF_WRITE);
    PyObject *size = PyLong_FromSsize_t(n);
    if (view == NULL || size == NULL) {
        Py_XDECREF(view); Py_XDECREF(size);
        return -1;
    }
    PyObject *args[2] = {size, view};
    PyObject *res = PyObject_Vectorcall(r->read, args, 2, NULL);
    Py_DECREF(size); Py_DECREF(view);
    if (res == NULL) return -1;
    Py_ssize_t got = PyLong_AsSsize_t(res);
    Py_DECREF(res);
    if (got == -1 && PyErr_Occurred()) return -1;
    if (got < 0 || got > n) {
        PyErr_SetString(PyExc_ValueError, "the TLS read returned an impossible count");
        return -1;
    }
    if (got == 0) r->eof = 1;
    return got;
}

static int frame_error(FrameReader *r, const char *message, int opcode) {
    PyObject *text = opcode < 0 ? PyUnicode_FromString(message)
                                : PyUnicode_FromFormat(message, opcode);
    if (text != NULL) {
        PyErr_SetObject(r->error, text);
        Py_DECREF(text);
    }
    return -1;
}

/* Start the frame whose header is in head[:len]: the checks of ChannelReader._header. */
static int start_frame(FrameReader *r) {
    unsigned char b0 = r->head[0], b1 = r->head[1];
    unsigned long long length = b1 & 0x7F;
    if (length == 126) length = (unsigned long long)r->head[2] << 8 | r->head[3];
    if (length == 127) {
        length = 0;
        for (int i = 2; i < 10; i++) length = length << 8 | r->head[i];
    }
    if (b1 & 0x80) return frame_error(r, "the server masked a frame", -1);
    if (b0 & 0x70) return frame_error(r, "reserved bits set (no extension was negotiated)", -1);
    int opcode = b0 & 0x0F, fin = (b0 & 0x80) != 0;
    if (opcode >= OP_CLOSE) {
        if (opcode != OP_CLOSE && opcode != OP_PING && opcode != OP_PONG)
            return frame_error(r, "unknown control opcode 0x%x", opcode);
        if (!fin || length > 125)
            return frame_error(r, "a control frame must be whole and at most 125 bytes", -1);
        r->control_len = 0;
    } else if (opcode == OP_CONT) {
        if (!r->in_message) return frame_error(r, "a continuation frame outside a message", -1);
    } else if (opcode == OP_TEXT || opcode == OP_BINARY) {
        if (r->in_message) return frame_error(r, "a new message before the last one ended", -1);
        r->in_message = 1;
        r->channel = NO_CHANNEL;
    } else {
        return frame_error(r, "unknown opcode 0x%x", opcode);
    }
    if (opcode < OP_CLOSE) r->fin = fin;
    r->opcode = opcode;
    r->left = length;
    r->head_len = 0;
    return 0;
}

/* Read the next frame's header: 1 when started, 0 when the connection ended, -1 raised. */
static int read_header(FrameReader *r) {
    for (;;) {
        int need = 2;
        if (r->head_len >= 2) {
            int l7 = r->head[1] & 0x7F;
            need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
        }
        if (r->head_len == need) return start_frame(r) < 0 ? -1 : 1;
        Py_ssize_t got = read_into(r, r->head + r->head_len, need - r->head_len);
        if (got <= 0) return (int)got;
        r->head_len += (int)got;
    }
}

static int call_on_frame(FrameReader *r, int channel, PyObject *payload, int end) {
    PyObject *res = PyObject_CallFunction(r->on_frame, "iiOi", r->opcode, channel, payload, end);
    Py_XDECREF(res);
    return res == NULL ? -1 : 0;
}

/* The current frame has all its payload: tell on_frame unless it was stdout; ready for the
 * next header. */
static int end_frame(FrameReader *r) {
    int rc = 0;
    if (r->opcode >= OP_CLOSE) {
        PyObject *payload = PyBytes_FromStringAndSize((char *)r->control, r->control_len);
        if (payload == NULL) return -1;
        rc = call_on_frame(r, NO_CHANNEL, payload, 2);
        Py_DECREF(payload);
        if (r->opcode == OP_CLOSE) r->closed = 1;
    } else {
        if (r->channel != STDOUT) {
            PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
            if (empty == NULL) return -1;
            rc = call_on_frame(r, r->channel, empty, r->fin ? 2 : 1);
            Py_DECREF(empty);
        }
        if (r->fin) r->in_message = 0;
    }
    r->opcode = -1;
    return rc;
}

/* Read some of the current frame's payload: how many bytes (0: ended, or the chunk is full
 * when *full is set), -1 raised. */
static Py_ssize_t read_payload(FrameReader *r, Py_ssize_t limit, int *full) {
    Py_ssize_t want = r->left > PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)r->left, got;
    if (r->opcode >= OP_CLOSE) {
        got = read_into(r, r->control + r->control_len, want);
        if (got > 0) r->control_len += (int)got;
    } else if (r->channel == NO_CHANNEL) {
        unsigned char channel;
        got = read_into(r, &channel, 1);
        if (got > 0) r->channel = channel;
    } else if (r->channel == STDOUT) {
        if (r->used >= limit) {
            *full = 1;
            return 0;
        }
        if (want > limit - r->used) want = limit - r->used;
        got = read_into(r, PyBytes_AS_STRING(r->chunk) + r->used, want);
        if (got > 0) r->used += got;
    } else {
        if (want > PIECE) want = PIECE;
        PyObject *piece = PyBytes_FromStringAndSize(NULL, want);
        if (piece == NULL) return -1;
        got = read_into(r, PyBytes_AS_STRING(piece), want);
        if (got > 0 && (_PyBytes_Resize(&piece, got) < 0 ||
                        call_on_frame(r, r->channel, piece, 0) < 0))
            got = -1;
        Py_XDECREF(piece);
    }
    if (got > 0) r->left -= (unsigned long long)got;
    return got;
}

static PyObject *fill(FrameReader *r, PyObject *arg) {
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    if (r->chunk == NULL) {
        r->chunk = PyBytes_FromStringAndSize(NULL, limit > 0 ? limit : 1);
        if (r->chunk == NULL) return NULL;
        r->cap = limit > 0 ? limit : 1;
        r->used = 0;
    }
    if (limit > r->cap) limit = r->cap;
    while (!r->closed && !r->eof) {
        if (r->opcode < 0) {
            int started = read_header(r);
            if (started < 0) return NULL;
            if (started == 0) break;
        }
        if (r->left) {
            int full = 0;
            Py_ssize_t got = read_payload(r, limit, &full);
            if (got < 0) return NULL;
            if (got == 0) break;
        }
        if (!r->left && end_frame(r) < 0) return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *take(FrameReader *r, PyObject *Py_UNUSED(ignored)) {
    if (r->chunk == NULL || r->used == 0) return PyBytes_FromStringAndSize(NULL, 0);
    PyObject *chunk = r->chunk;
    Py_ssize_t used = r->used;
    r->chunk = NULL;
    r->used = 0;
    if (_PyBytes_Resize(&chunk, used) < 0) return NULL; /* chunk freed: the next fill makes one */
    return chunk;
}

static int init(FrameReader *r, PyObject *args, PyObject *kwds) {
    PyObject *read, *on_frame, *error;
    static char *names[] = {"read", "on_frame", "error", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO", names, &read, &on_frame, &error))
        return -1;
    Py_INCREF(read); Py_INCREF(on_frame); Py_INCREF(error);
    Py_XSETREF(r->read, read);
    Py_XSETREF(r->on_frame, on_frame);
    Py_XSETREF(r->error, error);
    r->opcode = r->channel = NO_CHANNEL;
    return 0;
}

static void dealloc(FrameReader *r) {
    Py_XDECREF(r->read); Py_XDECREF(r->on_frame); Py_XDECREF(r->error); Py_XDECREF(r->chunk);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyMethodDef reader_methods[] = {
    {"fill", (PyCFunction)fill, METH_O, "Read frames until the chunk holds `limit` stdout bytes."},
    {"take", (PyCFunction)take, METH_NOARGS, "The stdout read so far, as bytes."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef reader_members[] = {
    {"closed", T_INT, offsetof(FrameReader, closed), READONLY, "The server closed the stream."},
    {"eof", T_INT, offsetof(FrameReader, eof), READONLY, "The connection ended."},
    {"used", T_PYSSIZET, offsetof(FrameReader, used), READONLY, "Stdout bytes not taken yet."},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject reader_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kubectl_netmon.cluster._wsframes.FrameReader",
    .tp_basicsize = sizeof(FrameReader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The exec stream's frames read off TLS; stdout gathered into chunks.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)init,
    .tp_dealloc = (destructor)dealloc,
    .tp_methods = reader_methods,
    .tp_members = reader_members,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wsframes",
                                    "The exec stream's receive loop over TLS, compiled.", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__wsframes(void) {
    if (PyType_Ready(&reader_type) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&reader_type);
    if (PyModule_AddObject(m, "FrameReader", (PyObject *)&reader_type) < 0) {
        Py_DECREF(&reader_type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
