/* What _speedups.c (records, packets), _flowpath.c (the flow engine's common case) and
 * _merge.c (the merge's duplicate check and reorder heap) share. */
#ifndef NETMON_SPEEDUPS_H
#define NETMON_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

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
/* _merge.c: merge.Dedupe and merge.RecordHeap compiled */
extern PyTypeObject DeduperType, RecordHeapType;

PyObject *set_flow_types(PyObject *self, PyObject *args);
PyObject *flow_packet(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif
