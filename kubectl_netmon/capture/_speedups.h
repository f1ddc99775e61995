/* What _speedups.c (records, packets), _flowpath.c (the flow engine's common case) and
 * _merge.c (the merge's duplicate check and reorder heap) share. */
#ifndef NETMON_SPEEDUPS_H
#define NETMON_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* integers in the byte orders of the headers and of pcapng sections */
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint32_t rd32(const uint8_t *p, int big) { return big ? be32(p) : le32(p); }
static inline void put32(uint8_t *p, uint32_t v) {
    p[0] = v & 0xFF; p[1] = v >> 8 & 0xFF; p[2] = v >> 16 & 0xFF; p[3] = v >> 24;
}

/* model.Packet's slots, in this order */
enum { P_TS, P_IFACE, P_KEY, P_PROTO, P_SPORT, P_DPORT, P_IP_LEN, P_PAYLOAD_LEN, P_PAYLOAD,
       P_FLAGS, P_SEQ, P_ACK, P_WINDOW, P_FRAG, N_SLOTS };
extern PyTypeObject *packet_type;
extern Py_ssize_t slot_at[N_SLOTS];

/* The offsets of a slot class's named slots (object slots only); 0, or -1 with an error. */
int slot_offsets(PyObject *type, const char *const *names, int n, Py_ssize_t *at);
/* model.reverse_key: a packet key with addresses and ports swapped (a new reference). */
PyObject *key_reversed(PyObject *key);

/* A record tuple's fields, checked (its data within its buffer); 0, or -1 with an error. */
int unpack_record(PyObject *rec, unsigned long long *ts, Py_ssize_t *iface,
                  const uint8_t **data, Py_ssize_t *start, Py_ssize_t *end, Py_ssize_t *buflen);
/* _gather.c: EPBs gathered from the record buffers, written by a thread without the GIL */
extern PyTypeObject GatherType, FileWriterType;
PyObject *epb_gather(PyObject *self, PyObject *args);
/* _merge.c: merge.Dedupe and merge.RecordHeap compiled */
extern PyTypeObject DeduperType, RecordHeapType;

PyObject *set_flow_types(PyObject *self, PyObject *args);
PyObject *flow_packet(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif
