/*
 * mcrx_core._mcrx_core: the CPython extension over libmcrx-core.
 *
 * Context and Subscription mirror the Rust crate's Python package; Packet,
 * PacketWithMetadata and ReceiveMetadata keep their fields in C and build the
 * Python values when read. Batch receives use the library's recvmmsg path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include <mcrx/mcrx.h>
#include <mcrx/raw.h>

#define BATCH_MAX 512

/* ---- errors ----------------------------------------------------------------- */

/*
 * One exception class per kind of MCRX_ERROR_MAP, made at import, so a kind
 * added to the header has its class without an edit here. Each derives from
 * mcrx_core.McrxError and from the built-in class the Rust package's mapping
 * raises for it, so `except ValueError` and `except mcrx_core.McrxError` both
 * work. The kind's name and number are class attributes (kind, code); the
 * message is str(e) and, for an OSError, also its strerror (as ssl.SSLError
 * does), with errno the kernel's.
 */
static const struct {
    mcrx_error code;
    const char *name;
} error_kinds[] = {
#define KIND_(name, msg) {MCRX_ERROR_##name, #name},
    MCRX_ERROR_MAP(KIND_)
#undef KIND_
};

static PyObject *error_base;                       /* mcrx_core.McrxError */
static PyObject *error_classes[MCRX_ERROR_COUNT_]; /* by kind; NONE has none */

/* The Rust package's mapping: configs → ValueError, a missing subscription →
 * LookupError, the OS → OSError, every other state error → RuntimeError.
 * INTERFACE_DISCOVERY_FAILED is both an OSError and a RuntimeError: the
 * crate raises the first when a system call failed and the second when no
 * interface matched, as io.UnsupportedOperation is both OSError and ValueError. */
static PyObject *error_builtins(mcrx_error k) {
    switch (k) {
    case MCRX_ERROR_INVALID_DESTINATION_PORT:
    case MCRX_ERROR_INVALID_MULTICAST_GROUP:
    case MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE:
    case MCRX_ERROR_INVALID_SOURCE_ADDRESS:
    case MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH:
    case MCRX_ERROR_INVALID_IPV4_SSM_GROUP:
    case MCRX_ERROR_INVALID_IPV6_SSM_GROUP:
    case MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH:
    case MCRX_ERROR_INVALID_INTERFACE_INDEX:
    case MCRX_ERROR_INTERFACE_INDEX_REQUIRES_IPV6:
    case MCRX_ERROR_IPV6_SSM_REQUIRES_INTERFACE:
    case MCRX_ERROR_INVALID_ARGUMENT:
    case MCRX_ERROR_INVALID_ADDRESS:
    case MCRX_ERROR_INVALID_INTERFACE:
    case MCRX_ERROR_INVALID_SOURCE_FILTER:
        return PyTuple_Pack(2, error_base, PyExc_ValueError);
    case MCRX_ERROR_SUBSCRIPTION_NOT_FOUND:
        return PyTuple_Pack(2, error_base, PyExc_LookupError);
    case MCRX_ERROR_SOCKET_CREATE_FAILED:
    case MCRX_ERROR_SOCKET_OPTION_FAILED:
    case MCRX_ERROR_SOCKET_BIND_FAILED:
    case MCRX_ERROR_SOCKET_LOCAL_ADDR_FAILED:
    case MCRX_ERROR_MULTICAST_JOIN_FAILED:
    case MCRX_ERROR_MULTICAST_LEAVE_FAILED:
    case MCRX_ERROR_RECEIVE_FAILED:
    case MCRX_ERROR_IO_FAILED:
    case MCRX_ERROR_RAW_SOCKET_CREATE_FAILED:
    case MCRX_ERROR_RAW_SOCKET_BIND_FAILED:
    case MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED:
        return PyTuple_Pack(2, error_base, PyExc_OSError);
    case MCRX_ERROR_INTERFACE_DISCOVERY_FAILED:
        return PyTuple_Pack(3, error_base, PyExc_OSError, PyExc_RuntimeError);
    case MCRX_ERROR_OUT_OF_MEMORY:
        return PyTuple_Pack(2, error_base, PyExc_MemoryError);
    default:
        return PyTuple_Pack(2, error_base, PyExc_RuntimeError);
    }
}

/* OSError's str() is "[Errno N] strerror"; ours is the message alone, which
 * already names the OS error ("...: Cannot assign requested address (errno 99)"). */
static PyObject *oserror_str(PyObject *self, PyObject *unused) {
    PyObject *s = PyObject_GetAttrString(self, "strerror");
    (void)unused;
    if (s == NULL || PyUnicode_Check(s))
        return s;
    Py_DECREF(s);
    return ((PyTypeObject *)PyExc_OSError)->tp_str(self);
}
static PyMethodDef oserror_str_def = {"__str__", oserror_str, METH_NOARGS, NULL};

/* "SUBSCRIPTION_NOT_FOUND" → "mcrx_core.SubscriptionNotFoundError". */
static void error_class_name(const char *kind, char *out, size_t size) {
    size_t n = (size_t)snprintf(out, size, "mcrx_core.");
    int upper = 1;
    for (; *kind != '\0' && n + 1 < size; kind++) {
        if (*kind == '_') {
            upper = 1;
            continue;
        }
        out[n++] = upper ? *kind : (char)(*kind >= 'A' && *kind <= 'Z' ? *kind - 'A' + 'a' : *kind);
        upper = 0;
    }
    out[n] = '\0';
    snprintf(out + n, size - n, "Error");
}

/* The class of kind k ("mcrx_core.SubscriptionNotFoundError"), new. */
static PyObject *error_class_new(mcrx_error k, const char *kind) {
    char name[128], doc[256];
    PyObject *bases = error_builtins(k), *dict, *cls = NULL;
    error_class_name(kind, name, sizeof name);
    snprintf(doc, sizeof doc, "%s (code %d): %s.", kind, (int)k, mcrx_error_message(k));
    dict = Py_BuildValue("{sssi}", "kind", kind, "code", (int)k);
    if (bases != NULL && dict != NULL && PySequence_Contains(bases, PyExc_OSError) == 1) {
        PyObject *str = PyDescr_NewMethod((PyTypeObject *)PyExc_OSError, &oserror_str_def);
        if (str == NULL || PyDict_SetItemString(dict, "__str__", str) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(str);
    }
    if (bases != NULL && dict != NULL && !PyErr_Occurred())
        cls = PyErr_NewExceptionWithDoc(name, doc, bases, dict);
    Py_XDECREF(bases);
    Py_XDECREF(dict);
    return cls;
}

/* Makes McrxError and the class of every kind; adds them to m. */
static int errors_init(PyObject *m) {
    size_t i;
    error_base = PyErr_NewExceptionWithDoc(
        "mcrx_core.McrxError",
        "A failure the library reported. Each kind has its subclass, which also derives from "
        "the built-in class the Rust package raises for it (ValueError, LookupError, OSError, "
        "RuntimeError, MemoryError). kind: the kind's name (\"SUBSCRIPTION_NOT_FOUND\"); code: "
        "its number (mcrx_error in <mcrx/mcrx.h>); str(e): the message, \"MCRX: ...\".",
        NULL, NULL);
    if (error_base == NULL)
        return -1;
    Py_INCREF(error_base);
    if (PyModule_AddObject(m, "McrxError", error_base) < 0) {
        Py_DECREF(error_base);
        return -1;
    }
    for (i = 0; i < sizeof error_kinds / sizeof error_kinds[0]; i++) {
        mcrx_error k = error_kinds[i].code;
        PyObject *cls;
        if (k == MCRX_ERROR_NONE)
            continue;
        cls = error_class_new(k, error_kinds[i].name);
        if (cls == NULL)
            return -1;
        error_classes[k] = cls;
        Py_INCREF(cls);
        /* A heap type's tp_name is its bare name: "SubscriptionNotFoundError". */
        if (PyModule_AddObject(m, ((PyTypeObject *)cls)->tp_name, cls) < 0) {
            Py_DECREF(cls);
            return -1;
        }
    }
    return 0;
}

/*
 * Raises the class of kind with msg (decoded leniently: a message may quote
 * bytes from outside). An OSError also gets os as errno, when there is one.
 * A missing subscription keeps the Rust package's text, which programs may
 * match, with the library's detail ("MCRX: mcrx_core subscription not found:
 * id 7").
 */
static PyObject *raise_kind(mcrx_error kind, int os, const char *msg) {
    PyObject *cls, *text, *exc;
    if (kind <= MCRX_ERROR_NONE || kind >= MCRX_ERROR_COUNT_ || error_classes[kind] == NULL) {
        PyErr_Format(PyExc_SystemError, "mcrx_core: the library failed with no error kind (%d): %s",
                     (int)kind, msg);
        return NULL;
    }
    cls = error_classes[kind];
    if (kind == MCRX_ERROR_SUBSCRIPTION_NOT_FOUND) {
        const char *plain = mcrx_error_message(kind);
        size_t n = strlen(plain);
        text = PyUnicode_FromFormat("MCRX: mcrx_core subscription not found%s",
                                    strncmp(msg, plain, n) == 0 ? msg + n : "");
    } else
        text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    if (text == NULL)
        return NULL;
    if (os != 0 && PyObject_IsSubclass(cls, PyExc_OSError) == 1)
        exc = PyObject_CallFunction(cls, "iN", os, text);
    else
        exc = PyObject_CallFunction(cls, "N", text);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

/* The missing subscription id, as the library words it. */
static PyObject *raise_not_found(uint64_t id) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: id %llu", mcrx_error_message(MCRX_ERROR_SUBSCRIPTION_NOT_FOUND),
             (unsigned long long)id);
    return raise_kind(MCRX_ERROR_SUBSCRIPTION_NOT_FOUND, 0, msg);
}

static PyObject *raise_ctx(const mcrx_context *ctx) {
    return raise_kind(mcrx_context_last_error_code(ctx), mcrx_context_last_os_error(ctx),
                      mcrx_context_last_error(ctx));
}

static PyObject *raise_sub(const mcrx_subscription *sub) {
    return raise_kind(mcrx_subscription_last_error_code(sub), mcrx_subscription_last_os_error(sub),
                      mcrx_subscription_last_error(sub));
}

static PyObject *ip_str(const mcrx_ip *ip) {
    char text[MCRX_IP_STRLEN];
    if (ip->family == MCRX_IP_NONE || mcrx_ip_format(ip, text, sizeof text) == 0)
        Py_RETURN_NONE;
    return PyUnicode_FromString(text);
}

/*
 * obj as an integer in lo..hi. A non-integer (None, float, str) is a
 * TypeError; an integer outside the C field's range is a ValueError naming
 * the parameter, its range and the value, so nothing is wrapped, masked or
 * clamped on the way to C.
 */
static int int_arg(PyObject *obj, const char *name, unsigned long long lo, unsigned long long hi,
                   unsigned long long *out) {
    PyObject *v;
    unsigned long long x;
    int outside;
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s", name,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    v = PyNumber_Index(obj);
    if (v == NULL)
        return -1;
    x = PyLong_AsUnsignedLongLong(v);
    outside = x == (unsigned long long)-1 && PyErr_Occurred();
    if (outside) {
        /* Below 0 or above 2**64-1: out of every range here. */
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            Py_DECREF(v);
            return -1;
        }
        PyErr_Clear();
    } else
        outside = x < lo || x > hi;
    if (outside) {
        PyErr_Format(PyExc_ValueError, "%s must be between %llu and %llu, got %S", name, lo, hi, v);
        Py_DECREF(v);
        return -1;
    }
    Py_DECREF(v);
    *out = x;
    return 0;
}

/* ---- Packet ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    uint64_t subscription_id;
    mcrx_ip source, group;
    uint16_t source_port, dst_port;
    uint32_t flags;
    size_t wire_len;
    /* Kept here: the payload view may be released by its user. */
    Py_ssize_t len;
    PyObject *payload; /* bytes, or a memoryview into the caller's buffer */
} PacketObject;

static PyTypeObject PacketType;

static void packet_dealloc(PacketObject *p) {
    Py_XDECREF(p->payload);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static PacketObject *packet_new(const mcrx_datagram *dg, PyObject *payload /* stolen */) {
    PacketObject *p = PyObject_New(PacketObject, &PacketType);
    if (p == NULL) {
        Py_DECREF(payload);
        return NULL;
    }
    p->subscription_id = dg->subscription_id;
    p->source = dg->source;
    p->group = dg->group;
    p->source_port = dg->source_port;
    p->dst_port = dg->dst_port;
    p->flags = dg->flags;
    p->wire_len = dg->wire_len;
    p->len = (Py_ssize_t)dg->len;
    p->payload = payload;
    return p;
}

static PyObject *packet_get_source(PacketObject *p, void *c) {
    PyObject *ip = ip_str(&p->source);
    (void)c;
    return ip == NULL ? NULL : Py_BuildValue("(Ni)", ip, p->source_port);
}
static PyObject *packet_get_source_addr(PacketObject *p, void *c) {
    (void)c;
    return ip_str(&p->source);
}
static PyObject *packet_get_group(PacketObject *p, void *c) {
    (void)c;
    return ip_str(&p->group);
}
static PyObject *packet_get_payload(PacketObject *p, void *c) {
    (void)c;
    Py_INCREF(p->payload);
    return p->payload;
}
static PyObject *packet_get_truncated(PacketObject *p, void *c) {
    (void)c;
    return PyBool_FromLong((p->flags & MCRX_DATAGRAM_TRUNCATED) != 0);
}
static PyObject *packet_payload_len(PacketObject *p, PyObject *unused) {
    (void)unused;
    return PyLong_FromSsize_t(p->len);
}
static PyObject *packet_repr(PacketObject *p) {
    char src[MCRX_IP_STRLEN] = "", grp[MCRX_IP_STRLEN] = "";
    mcrx_ip_format(&p->source, src, sizeof src);
    mcrx_ip_format(&p->group, grp, sizeof grp);
    return PyUnicode_FromFormat("Packet(subscription_id=%llu, source=('%s', %u), group='%s', "
                                "dst_port=%u, payload_len=%zd)",
                                (unsigned long long)p->subscription_id, src, p->source_port, grp,
                                p->dst_port, p->len);
}

static PyMemberDef packet_members[] = {
    {"subscription_id", T_ULONGLONG, offsetof(PacketObject, subscription_id), READONLY, NULL},
    {"source_port", T_USHORT, offsetof(PacketObject, source_port), READONLY, NULL},
    {"dst_port", T_USHORT, offsetof(PacketObject, dst_port), READONLY, NULL},
    {"wire_len", T_PYSSIZET, offsetof(PacketObject, wire_len), READONLY,
     "the datagram's size on the wire (> len(payload) when truncated)"},
    {NULL, 0, 0, 0, NULL}};
static PyGetSetDef packet_getset[] = {
    {"source", (getter)packet_get_source, NULL, "(ip, port) of the sender", NULL},
    {"source_addr", (getter)packet_get_source_addr, NULL, "sender IP", NULL},
    {"group", (getter)packet_get_group, NULL, "the subscription's group", NULL},
    {"payload", (getter)packet_get_payload, NULL, "the payload (bytes)", NULL},
    {"truncated", (getter)packet_get_truncated, NULL, "larger than the receive buffer", NULL},
    {NULL, NULL, NULL, NULL, NULL}};
static PyMethodDef packet_methods[] = {
    {"payload_len", (PyCFunction)packet_payload_len, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject PacketType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.Packet",
    .tp_basicsize = sizeof(PacketObject),
    .tp_dealloc = (destructor)packet_dealloc,
    .tp_repr = (reprfunc)packet_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One received datagram.",
    .tp_members = packet_members,
    .tp_getset = packet_getset,
    .tp_methods = packet_methods,
};

/* ---- ReceiveMetadata, PacketWithMetadata ---------------------------------------- */

typedef struct {
    PyObject_HEAD
    mcrx_metadata m;
} MetadataObject;

static PyTypeObject MetadataType;

static PyObject *meta_socket_local_addr(MetadataObject *o, void *c) {
    PyObject *ip = ip_str(&o->m.socket_local_ip);
    (void)c;
    if (ip == Py_None)
        return ip;
    return ip == NULL ? NULL : Py_BuildValue("(Ni)", ip, o->m.socket_local_port);
}
static PyObject *meta_configured_interface(MetadataObject *o, void *c) {
    (void)c;
    return ip_str(&o->m.configured_interface);
}
static PyObject *opt_u64(int present, unsigned long long v) {
    if (!present)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(v);
}
static PyObject *meta_configured_interface_index(MetadataObject *o, void *c) {
    (void)c;
    return opt_u64(o->m.configured_interface_index != 0, o->m.configured_interface_index);
}
static PyObject *meta_destination_local_ip(MetadataObject *o, void *c) {
    (void)c;
    if (!(o->m.valid & MCRX_META_DESTINATION))
        Py_RETURN_NONE;
    return ip_str(&o->m.destination_local_ip);
}
static PyObject *meta_ingress_interface_index(MetadataObject *o, void *c) {
    (void)c;
    return opt_u64((o->m.valid & MCRX_META_INGRESS_IF) != 0, o->m.ingress_interface_index);
}
static PyObject *meta_rx_timestamp_ns(MetadataObject *o, void *c) {
    (void)c;
    if (!(o->m.valid & MCRX_META_TIMESTAMP))
        Py_RETURN_NONE;
    return PyLong_FromLongLong(o->m.rx_timestamp_ns);
}
static PyObject *meta_ttl(MetadataObject *o, void *c) {
    (void)c;
    return opt_u64((o->m.valid & MCRX_META_TTL) != 0, o->m.ttl);
}
static PyObject *meta_kernel_drops(MetadataObject *o, void *c) {
    (void)c;
    return opt_u64((o->m.valid & MCRX_META_DROPS) != 0, o->m.kernel_drops);
}

static PyGetSetDef meta_getset[] = {
    {"socket_local_addr", (getter)meta_socket_local_addr, NULL, NULL, NULL},
    {"configured_interface", (getter)meta_configured_interface, NULL, NULL, NULL},
    {"configured_interface_index", (getter)meta_configured_interface_index, NULL, NULL, NULL},
    {"destination_local_ip", (getter)meta_destination_local_ip, NULL, NULL, NULL},
    {"ingress_interface_index", (getter)meta_ingress_interface_index, NULL, NULL, NULL},
    {"rx_timestamp_ns", (getter)meta_rx_timestamp_ns, NULL, NULL, NULL},
    {"ttl", (getter)meta_ttl, NULL, NULL, NULL},
    {"kernel_drops", (getter)meta_kernel_drops, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MetadataType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.ReceiveMetadata",
    .tp_basicsize = sizeof(MetadataObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Delivery context of one datagram.",
    .tp_getset = meta_getset,
};

typedef struct {
    PyObject_HEAD
    PyObject *packet;
    PyObject *metadata;
} PwmObject;

static void pwm_dealloc(PwmObject *o) {
    Py_XDECREF(o->packet);
    Py_XDECREF(o->metadata);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyMemberDef pwm_members[] = {
    {"packet", T_OBJECT, offsetof(PwmObject, packet), READONLY, NULL},
    {"metadata", T_OBJECT, offsetof(PwmObject, metadata), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject PwmType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.PacketWithMetadata",
    .tp_basicsize = sizeof(PwmObject),
    .tp_dealloc = (destructor)pwm_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A Packet and its ReceiveMetadata.",
    .tp_members = pwm_members,
};

static PyObject *pwm_new(PacketObject *packet, const mcrx_metadata *m) {
    MetadataObject *mo;
    PwmObject *o;
    if (packet == NULL)
        return NULL;
    mo = PyObject_New(MetadataObject, &MetadataType);
    if (mo == NULL) {
        Py_DECREF(packet);
        return NULL;
    }
    mo->m = *m;
    o = PyObject_New(PwmObject, &PwmType);
    if (o == NULL) {
        Py_DECREF(packet);
        Py_DECREF(mo);
        return NULL;
    }
    o->packet = (PyObject *)packet;
    o->metadata = (PyObject *)mo;
    return (PyObject *)o;
}

/* ---- receiving into Python objects ---------------------------------------------- */

/* A library-owned arena per Context: datagrams land there (one recvmmsg) and
 * each payload is then copied once into an exactly sized bytes object. */
typedef struct {
    unsigned char *arena;
    size_t slots;
    /* Set while datagrams in the arena are being copied out: building Python
     * objects can run a finalizer (a collection on allocation) or let another
     * thread in, and a receive from there would reuse the arena under us. */
    int busy;
    mcrx_datagram dgs[BATCH_MAX];
    mcrx_metadata metas[BATCH_MAX];
} rxbuf;

/* Slots of the arena: room for the largest datagram, plus 17 cache lines so
 * that slot starts do not all fall on the same cache sets (a 64 KiB stride
 * maps every slot's first bytes to one set of each cache level, and 64
 * slots per batch then evict each other between the kernel's copy in and
 * ours out). */
#define RX_SLOT_STRIDE (65536 + 17 * 64)

static int rxbuf_reserve(rxbuf *b, size_t n) {
    if (b->slots >= n)
        return 0;
    PyMem_Free(b->arena);
    b->arena = PyMem_Malloc(n * (size_t)RX_SLOT_STRIDE);
    if (b->arena == NULL) {
        b->slots = 0;
        PyErr_NoMemory();
        return -1;
    }
    b->slots = n;
    return 0;
}

typedef int (*recv_fn)(void *h, mcrx_datagram *dgs, size_t n, size_t *got);

static int ctx_recv_fn(void *h, mcrx_datagram *dgs, size_t n, size_t *got) {
    return mcrx_context_recv_batch(h, dgs, n, got);
}
static int sub_recv_fn(void *h, mcrx_datagram *dgs, size_t n, size_t *got) {
    return mcrx_subscription_recv_batch(h, dgs, n, got);
}

static PyObject *receive_copy(rxbuf *b, recv_fn fn, void *h, size_t n, int with_meta, int single,
                              int *status) {
    size_t got = 0, i;
    PyObject *list = NULL;
    if (rxbuf_reserve(b, n) != 0)
        return NULL;
    mcrx_datagrams_init(b->dgs, n, b->arena, RX_SLOT_STRIDE, with_meta ? b->metas : NULL);
    *status = fn(h, b->dgs, n, &got);
    if (*status != 0)
        return NULL;
    if (single && got == 0)
        Py_RETURN_NONE;
    if (!single && (list = PyList_New((Py_ssize_t)got)) == NULL)
        return NULL;
    for (i = 0; i < got; i++) {
        const mcrx_datagram *dg = &b->dgs[i];
        PyObject *payload = PyBytes_FromStringAndSize(dg->buf, (Py_ssize_t)dg->len);
        PyObject *item;
        if (payload == NULL) {
            Py_XDECREF(list);
            return NULL;
        }
        item = (PyObject *)packet_new(dg, payload);
        if (item != NULL && with_meta)
            item = pwm_new((PacketObject *)item, dg->meta);
        if (item == NULL) {
            Py_XDECREF(list);
            return NULL;
        }
        if (single)
            return item;
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* Receives up to n; returns a new list (batch), one object or None (single),
 * or NULL with the C status in *status when the library failed. */
static PyObject *receive(rxbuf *b, recv_fn fn, void *h, size_t n, int with_meta, int single,
                         int *status) {
    PyObject *r;
    *status = 0;
    if (b->busy) {
        return raise_kind(MCRX_ERROR_BUSY, 0,
                          "MCRX: busy: this Context is already receiving (a receive re-entered "
                          "from a finalizer, a signal handler or another thread)");
    }
    b->busy = 1;
    r = receive_copy(b, fn, h, n, with_meta, single, status);
    b->busy = 0;
    return r;
}

/*
 * recv_batch_into(buffer, slot_size=2048): datagrams land straight in the
 * caller's writable buffer (one recvmmsg per subscription turn), split into
 * slots, and each Packet's payload is a memoryview of its slot: no copy
 * beyond the kernel's. The views stay valid until the buffer is reused.
 *
 * Any writable, C-contiguous buffer is taken as plain bytes, as
 * socket.recv_into does: slots, offsets and payload views count bytes,
 * whatever the buffer's item type (array('i'), memoryview.cast('I')) or shape.
 */
static PyObject *receive_into(recv_fn fn, void *h, PyObject *args, PyObject *kw, int *status) {
    static char *names[] = {"buffer", "slot_size", NULL};
    PyObject *target, *slot_arg = NULL, *view, *bytes_view = NULL, *list = NULL;
    unsigned long long slot = 2048;
    Py_buffer pb;
    mcrx_datagram dgs[BATCH_MAX];
    size_t n, got = 0, i;
    *status = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:recv_batch_into", names, &target, &slot_arg))
        return NULL;
    if (slot_arg != NULL && int_arg(slot_arg, "slot_size", 1, MCRX_MAX_DATAGRAM, &slot) != 0)
        return NULL;
    /* One export of the caller's object backs both the memory the kernel
     * writes and the payload views, so they cannot differ. */
    view = PyMemoryView_FromObject(target);
    if (view == NULL)
        return NULL;
    /* Read-only or strided memory is refused here (BufferError), before any
     * datagram is taken from a socket. */
    if (PyObject_GetBuffer(view, &pb, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0) {
        Py_DECREF(view);
        return NULL;
    }
    n = (size_t)pb.len / (size_t)slot;
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "buffer is smaller than one slot");
        goto done;
    }
    /* Flat unsigned bytes, so slicing below counts bytes, not items. */
    bytes_view = PyObject_CallMethod(view, "cast", "s", "B");
    if (bytes_view == NULL)
        goto done;
    mcrx_datagrams_init(dgs, n, pb.buf, (size_t)slot, NULL);
    *status = fn(h, dgs, n, &got);
    if (*status != 0)
        goto done;
    list = PyList_New((Py_ssize_t)got);
    for (i = 0; list != NULL && i < got; i++) {
        Py_ssize_t off = (const char *)dgs[i].buf - (const char *)pb.buf;
        PyObject *part = PySequence_GetSlice(bytes_view, off, off + (Py_ssize_t)dgs[i].len);
        PyObject *item = part ? (PyObject *)packet_new(&dgs[i], part) : NULL;
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
done:
    Py_XDECREF(bytes_view);
    PyBuffer_Release(&pb);
    Py_DECREF(view);
    return list;
}

/* max_packets, positional or by keyword: 1..BATCH_MAX, 64 when absent. */
static int parse_max(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, size_t *n) {
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *arg = NULL;
    unsigned long long v = 64;
    if (nargs + nkw > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most one argument (max_packets)");
        return -1;
    }
    if (nkw == 1) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, 0);
        if (PyUnicode_CompareWithASCIIString(key, "max_packets") != 0) {
            PyErr_Format(PyExc_TypeError, "'%U' is an invalid keyword argument (expected max_packets)",
                         key);
            return -1;
        }
    }
    if (nargs + nkw == 1)
        arg = args[0];
    if (arg != NULL && int_arg(arg, "max_packets", 1, BATCH_MAX, &v) != 0)
        return -1;
    *n = (size_t)v;
    return 0;
}

/* ---- Context ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mcrx_context *ctx;
    rxbuf rx;
} ContextObject;

typedef struct {
    PyObject_HEAD
    ContextObject *owner;
    uint64_t id;
} SubscriptionObject;

static PyTypeObject ContextType, SubscriptionType;

static PyObject *context_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    ContextObject *self;
    if (PyTuple_GET_SIZE(args) != 0 || (kw != NULL && PyDict_GET_SIZE(kw) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Context() takes no arguments");
        return NULL;
    }
    self = (ContextObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->ctx = mcrx_context_new();
    if (self->ctx == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void context_dealloc(ContextObject *self) {
    mcrx_context_free(self->ctx);
    PyMem_Free(self->rx.arena);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *sub_wrap(ContextObject *owner, uint64_t id) {
    SubscriptionObject *s = PyObject_New(SubscriptionObject, &SubscriptionType);
    if (s == NULL)
        return NULL;
    Py_INCREF(owner);
    s->owner = owner;
    s->id = id;
    return (PyObject *)s;
}

/* A source filter from include= / exclude= (iterables of address strings,
 * None = not given): *mode and a PyMem list (*list, *n) for the library,
 * which copies it. Both given is the library's INVALID_SOURCE_FILTER. */
static int filter_args(PyObject *include, PyObject *exclude, uint32_t *mode, mcrx_ip **list,
                       size_t *n) {
    PyObject *seq, *arg = include != NULL && include != Py_None ? include : exclude;
    Py_ssize_t i, len;
    *mode = MCRX_SOURCES_NONE;
    *list = NULL;
    *n = 0;
    if (include != NULL && include != Py_None && exclude != NULL && exclude != Py_None) {
        raise_kind(MCRX_ERROR_INVALID_SOURCE_FILTER, 0,
                   "MCRX: invalid source filter: include and exclude together (a filter is "
                   "one or the other)");
        return -1;
    }
    if (arg == NULL || arg == Py_None)
        return 0;
    if (PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "sources must be an iterable of address strings, "
                                         "not one string");
        return -1;
    }
    seq = PySequence_Fast(arg, "sources must be an iterable of address strings");
    if (seq == NULL)
        return -1;
    len = PySequence_Fast_GET_SIZE(seq);
    *list = PyMem_Malloc((size_t)(len > 0 ? len : 1) * sizeof **list);
    if (*list == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < len; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        const char *text = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
        if (text == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "each source must be an address string");
        } else if (mcrx_ip_parse(text, &(*list)[i]) != MCRX_ERROR_NONE) {
            raise_kind(MCRX_ERROR_INVALID_ADDRESS, 0, mcrx_last_error());
            text = NULL;
        }
        if (text == NULL) {
            Py_DECREF(seq);
            PyMem_Free(*list);
            *list = NULL;
            return -1;
        }
    }
    Py_DECREF(seq);
    *n = (size_t)len;
    *mode = arg == include ? MCRX_SOURCES_INCLUDE : MCRX_SOURCES_EXCLUDE;
    return 0;
}

/* interfaces=: "all", or a list of names, indexes and addresses (strings),
 * "all" among them allowed. Fills cfg's set; the texts stay owned by *keep,
 * which the caller releases after the add. */
static int ifset_arg(PyObject *arg, mcrx_subscription_config *cfg, const char **texts,
                     PyObject **keep) {
    Py_ssize_t i, n;
    *keep = NULL;
    if (arg == NULL || arg == Py_None)
        return 0;
    if (PyUnicode_Check(arg)) {
        *keep = PyTuple_Pack(1, arg);
    } else if (PyList_Check(arg) || PyTuple_Check(arg)) {
        *keep = PySequence_Fast(arg, "interfaces");
    } else {
        PyErr_SetString(PyExc_TypeError, "interfaces must be \"all\" or a list of strings");
        return -1;
    }
    if (*keep == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(*keep);
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(*keep, i);
        const char *t;
        if (!PyUnicode_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "interfaces must be \"all\" or a list of strings");
            return -1;
        }
        t = PyUnicode_AsUTF8(item);
        if (t == NULL)
            return -1;
        if (strcmp(t, "all") == 0) {
            cfg->interface_flags |= MCRX_IFSET_ALL;
        } else if (cfg->ninterfaces == 64) {
            PyErr_SetString(PyExc_ValueError, "an interface set lists at most 64 interfaces");
            return -1;
        } else {
            texts[cfg->ninterfaces++] = t;
        }
    }
    cfg->interfaces = texts;
    return 0;
}

static PyObject *context_add_subscription(ContextObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"group",   "dst_port", "source",     "interface", "rcvbuf",
                            "sources", "exclude",  "interfaces", NULL};
    const char *group, *source = NULL, *iface = NULL;
    const char *texts[64];
    PyObject *port_arg, *rcvbuf_arg = NULL, *include = NULL, *exclude = NULL;
    PyObject *ifs_arg = NULL, *keep = NULL;
    unsigned long long port, rcvbuf = 0;
    mcrx_subscription_config cfg;
    mcrx_error e;
    mcrx_ip *list;
    size_t n;
    uint32_t mode;
    int st;
    uint64_t id;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|zz$OOOO:add_subscription", names, &group,
                                     &port_arg, &source, &iface, &rcvbuf_arg, &include, &exclude,
                                     &ifs_arg))
        return NULL;
    /* Ranges of the config's fields: uint16_t dst_port, uint32_t rcvbuf_bytes
     * (port 0 is left to the library, whose message says why it is refused). */
    if (int_arg(port_arg, "dst_port", 0, UINT16_MAX, &port) != 0)
        return NULL;
    if (rcvbuf_arg != NULL && int_arg(rcvbuf_arg, "rcvbuf", 0, UINT32_MAX, &rcvbuf) != 0)
        return NULL;
    e = mcrx_subscription_config_parse(&cfg, group, (uint16_t)port, source, iface);
    if (e != MCRX_ERROR_NONE)
        return raise_kind(e, 0, mcrx_last_error());
    cfg.rcvbuf_bytes = (uint32_t)rcvbuf;
    if (ifset_arg(ifs_arg, &cfg, texts, &keep) != 0) {
        Py_XDECREF(keep);
        return NULL;
    }
    if (filter_args(include, exclude, &mode, &list, &n) != 0) {
        Py_XDECREF(keep);
        return NULL;
    }
    cfg.sources_mode = mode;
    cfg.sources = list;
    cfg.nsources = (uint32_t)n;
    st = mcrx_context_add(self->ctx, &cfg, &id);
    PyMem_Free(list);
    Py_XDECREF(keep); /* add copied the texts */
    if (st != MCRX_STATUS_OK)
        return raise_ctx(self->ctx);
    return sub_wrap(self, id);
}

static PyObject *set_sources(ContextObject *ctx, uint64_t id, PyObject *args, PyObject *kw) {
    static char *names[] = {"include", "exclude", NULL};
    PyObject *include = NULL, *exclude = NULL;
    mcrx_ip *list;
    size_t n;
    uint32_t mode;
    int st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OO:set_sources", names, &include, &exclude))
        return NULL;
    if (filter_args(include, exclude, &mode, &list, &n) != 0)
        return NULL;
    st = mcrx_context_set_sources(ctx->ctx, id, mode, list, n);
    PyMem_Free(list);
    if (st != MCRX_STATUS_OK)
        return raise_ctx(ctx->ctx);
    Py_RETURN_NONE;
}

static PyObject *context_set_sources(ContextObject *self, PyObject *args, PyObject *kw) {
    unsigned long long id;
    PyObject *rest, *r;
    if (PyTuple_GET_SIZE(args) != 1) {
        PyErr_SetString(PyExc_TypeError,
                        "set_sources(id, *, include=None, exclude=None) takes one positional "
                        "argument");
        return NULL;
    }
    if (int_arg(PyTuple_GET_ITEM(args, 0), "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    rest = PyTuple_New(0);
    if (rest == NULL)
        return NULL;
    r = set_sources(self, id, rest, kw);
    Py_DECREF(rest);
    return r;
}

/* A borrowed-style name for Py_BuildValue's "O": interned, never freed. */
static PyObject *error_name_obj(mcrx_error kind) {
    static PyObject *names[MCRX_ERROR_COUNT_];
    if ((int)kind < 0 || kind >= MCRX_ERROR_COUNT_)
        return Py_None;
    if (names[kind] == NULL)
        names[kind] = PyUnicode_InternFromString(mcrx_error_name(kind));
    return names[kind] != NULL ? names[kind] : Py_None;
}

/* The oldest membership event (rejoin) as a dict, or None. */
static PyObject *context_next_interface_event(ContextObject *self, PyObject *unused) {
    mcrx_interface_event ev;
    int got = 0;
    static const char *const kinds[] = {"", "joined", "lost", "failed"};
    (void)unused;
    if (mcrx_context_next_interface_event(self->ctx, &ev, &got) != MCRX_STATUS_OK)
        return raise_ctx(self->ctx);
    if (!got)
        Py_RETURN_NONE;
    return Py_BuildValue("{s:K,s:s,s:I,s:s,s:O,s:i,s:L}", "subscription_id",
                         (unsigned long long)ev.subscription_id, "kind",
                         ev.kind <= 3 ? kinds[ev.kind] : "unknown", "interface_index",
                         (unsigned)ev.interface_index, "interface_name", ev.interface_name,
                         "error",
                         ev.error == MCRX_ERROR_NONE ? Py_None : error_name_obj(ev.error),
                         "os_error", ev.os_error, "time_ns", (long long)ev.time_ns);
}

static PyObject *context_get_subscription(ContextObject *self, PyObject *arg) {
    unsigned long long id;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    if (!mcrx_context_contains_subscription(self->ctx, id))
        return raise_not_found(id);
    return sub_wrap(self, id);
}

static PyObject *context_remove_subscription(ContextObject *self, PyObject *arg) {
    unsigned long long id;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    return PyBool_FromLong(mcrx_context_remove_subscription(self->ctx, id) == MCRX_STATUS_OK);
}

static PyObject *context_subscription_count(ContextObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromSize_t(mcrx_context_subscription_count(self->ctx));
}

static PyObject *context_fileno(ContextObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromLong((long)mcrx_context_fd(self->ctx));
}

static PyObject *ctx_receive(ContextObject *self, size_t n, int meta, int single) {
    int status;
    PyObject *r = receive(&self->rx, ctx_recv_fn, self->ctx, n, meta, single, &status);
    if (r == NULL && status != 0)
        return raise_ctx(self->ctx);
    return r;
}

static PyObject *context_recv_any_nowait(ContextObject *self, PyObject *unused) {
    (void)unused;
    return ctx_receive(self, 1, 0, 1);
}
static PyObject *context_recv_any_with_metadata_nowait(ContextObject *self, PyObject *unused) {
    (void)unused;
    return ctx_receive(self, 1, 1, 1);
}
static PyObject *context_recv_batch(ContextObject *self, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames) {
    size_t n;
    if (parse_max(args, nargs, kwnames, &n) != 0)
        return NULL;
    return ctx_receive(self, n, 0, 0);
}
static PyObject *context_recv_batch_with_metadata(ContextObject *self, PyObject *const *args,
                                                  Py_ssize_t nargs, PyObject *kwnames) {
    size_t n;
    if (parse_max(args, nargs, kwnames, &n) != 0)
        return NULL;
    return ctx_receive(self, n, 1, 0);
}

static PyObject *context_recv_batch_into(ContextObject *self, PyObject *args, PyObject *kw) {
    int status;
    PyObject *r = receive_into(ctx_recv_fn, self->ctx, args, kw, &status);
    if (r == NULL && status != 0)
        return raise_ctx(self->ctx);
    return r;
}

/*
 * A timeout in seconds: None or +inf waits without limit (*forever), a
 * finite number >= 0 bounds the wait, however large. NaN and negatives are
 * refused rather than read as "forever", which is what poll makes of them.
 */
static int parse_timeout(PyObject *obj, double *seconds, int *forever) {
    double t;
    *forever = 0;
    *seconds = 0;
    if (obj == Py_None) {
        *forever = 1;
        return 0;
    }
    t = PyFloat_AsDouble(obj);
    if (t == -1.0 && PyErr_Occurred()) {
        int overflow = 0;
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "timeout must be a number of seconds or None, not %.100s",
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        /* An int beyond a double's range: only its sign matters. */
        if (!PyLong_Check(obj) || !PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        (void)PyLong_AsLongLongAndOverflow(obj, &overflow);
        t = overflow < 0 ? -INFINITY : INFINITY;
    }
    if (isnan(t) || t < 0) {
        PyErr_Format(PyExc_ValueError,
                     "timeout must be a non-negative number of seconds or None, got %R", obj);
        return -1;
    }
    *forever = isinf(t);
    *seconds = t;
    return 0;
}

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * wait(timeout=None): looks with the GIL held (mcrx_context_wait with 0, which
 * also reports an error held back for the next receive), then blocks in poll
 * on the context's readiness fd with the GIL released. Nothing of the context
 * is touched while released, so other threads may use it meanwhile. A signal
 * ends the poll: its Python handler runs here, and the wait goes on for the
 * time left unless the handler raised (KeyboardInterrupt for Ctrl-C). Long
 * waits are polled in pieces of at most INT_MAX ms, so no value overflows.
 */
/* What a wait needs of its context: a look (its wait with timeout 0), its
 * readiness fd, and the exception for a failed look. */
typedef struct wait_ops {
    int (*look)(void *ctx, int *ready);
    mcrx_sock (*fd)(void *ctx);
    PyObject *(*fail)(void *ctx);
} wait_ops;

static PyObject *wait_loop(void *ctx, const wait_ops *ops, PyObject *args, PyObject *kw) {
    static char *names[] = {"timeout", NULL};
    PyObject *arg = Py_None;
    double timeout, deadline = 0;
    int forever;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:wait", names, &arg))
        return NULL;
    if (parse_timeout(arg, &timeout, &forever) != 0)
        return NULL;
    if (!forever)
        deadline = monotonic_seconds() + timeout;
    for (;;) {
        struct pollfd p;
        int ready = 0, ms = -1, r, err;
        if (ops->look(ctx, &ready) != MCRX_STATUS_OK)
            return ops->fail(ctx);
        if (ready)
            Py_RETURN_TRUE;
        if (!forever) {
            double left = deadline - monotonic_seconds();
            if (left <= 0)
                Py_RETURN_FALSE;
            /* Rounded up, so a sub-millisecond rest sleeps instead of spinning. */
            ms = left * 1000.0 >= (double)INT_MAX ? INT_MAX : (int)ceil(left * 1000.0);
        }
        p.fd = (int)ops->fd(ctx);
        p.events = POLLIN;
        p.revents = 0;
        Py_BEGIN_ALLOW_THREADS
        r = poll(&p, 1, ms);
        err = errno;
        Py_END_ALLOW_THREADS
        if (r < 0 && err != EINTR) {
            errno = err;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        if (r < 0 && PyErr_CheckSignals() != 0)
            return NULL;
        /* Readable, timed out or interrupted: the next look decides. */
    }
}

static int ctx_look(void *ctx, int *ready) {
    return mcrx_context_wait(ctx, 0, ready);
}

static mcrx_sock ctx_fd(void *ctx) {
    return mcrx_context_fd(ctx);
}

static PyObject *ctx_fail(void *ctx) {
    return raise_ctx(ctx);
}

static const wait_ops context_wait_ops = {ctx_look, ctx_fd, ctx_fail};

static PyObject *context_wait(ContextObject *self, PyObject *args, PyObject *kw) {
    return wait_loop(self->ctx, &context_wait_ops, args, kw);
}

/* A metrics snapshot as a dict: its uint64 fields, named by a table. */
typedef struct {
    const char *name;
    size_t offset;
} field_def;

#define F(type, field) {#field, offsetof(type, field)}
static const field_def context_fields[] = {
    F(mcrx_context_metrics, subscriptions_added), F(mcrx_context_metrics, subscriptions_removed),
    F(mcrx_context_metrics, active_subscriptions), F(mcrx_context_metrics, joined_subscriptions),
    F(mcrx_context_metrics, total_packets_received), F(mcrx_context_metrics, total_bytes_received),
    F(mcrx_context_metrics, total_would_block_count), F(mcrx_context_metrics, total_receive_errors),
    F(mcrx_context_metrics, total_join_count), F(mcrx_context_metrics, total_leave_count),
    F(mcrx_context_metrics, batch_calls), F(mcrx_context_metrics, batch_packets_received),
    F(mcrx_context_metrics, total_truncated), F(mcrx_context_metrics, total_discarded),
    F(mcrx_context_metrics, total_kernel_drops), F(mcrx_context_metrics, captured_at_ns),
    F(mcrx_context_metrics, interface_events_dropped),
    {NULL, 0}};
static const field_def subscription_fields[] = {
    F(mcrx_subscription_metrics, packets_received), F(mcrx_subscription_metrics, bytes_received),
    F(mcrx_subscription_metrics, would_block_count), F(mcrx_subscription_metrics, receive_errors),
    F(mcrx_subscription_metrics, join_count), F(mcrx_subscription_metrics, leave_count),
    F(mcrx_subscription_metrics, truncated), F(mcrx_subscription_metrics, discarded_other_group),
    F(mcrx_subscription_metrics, discarded_other_source),
    F(mcrx_subscription_metrics, discarded_other_interface),
    F(mcrx_subscription_metrics, discarded_no_pktinfo), F(mcrx_subscription_metrics, kernel_drops),
    F(mcrx_subscription_metrics, rcvbuf_bytes), F(mcrx_subscription_metrics, captured_at_ns),
    F(mcrx_subscription_metrics, interface_rejoins), F(mcrx_subscription_metrics, interface_losses),
    {NULL, 0}};
#undef F

static PyObject *fields_dict(const void *snapshot, const field_def *fields) {
    PyObject *d = PyDict_New();
    for (; d != NULL && fields->name != NULL; fields++) {
        uint64_t v;
        PyObject *x;
        memcpy(&v, (const char *)snapshot + fields->offset, sizeof v);
        x = PyLong_FromUnsignedLongLong(v);
        if (x == NULL || PyDict_SetItemString(d, fields->name, x) < 0) {
            Py_XDECREF(x);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(x);
    }
    return d;
}

static PyObject *context_metrics(ContextObject *self, PyObject *unused) {
    mcrx_context_metrics m;
    (void)unused;
    if (mcrx_context_metrics_get(self->ctx, &m) != MCRX_STATUS_OK)
        return raise_ctx(self->ctx);
    return fields_dict(&m, context_fields);
}

static PyMethodDef context_methods[] = {
    {"metrics", (PyCFunction)context_metrics, METH_NOARGS, "lifetime counters and gauges (dict)"},
    {"add_subscription", (PyCFunction)(void (*)(void))context_add_subscription,
     METH_VARARGS | METH_KEYWORDS,
     "add_subscription(group, dst_port, source=None, interface=None, *, rcvbuf=0, sources=None, "
     "exclude=None, interfaces=None) -> Subscription: sources=[...] is a source filter "
     "INCLUDE{...}, exclude=[...] EXCLUDE{...} (RFC 3678); interfaces=\"all\" or a list of "
     "names, indexes and addresses is an interface set"},
    {"set_sources", (PyCFunction)(void (*)(void))context_set_sources, METH_VARARGS | METH_KEYWORDS,
     "set_sources(id, *, include=None, exclude=None): replaces the subscription's source filter "
     "(full state; neither given = any source), applied at once when joined"},
    {"get_subscription", (PyCFunction)context_get_subscription, METH_O, NULL},
    {"next_interface_event", (PyCFunction)context_next_interface_event, METH_NOARGS,
     "the oldest membership change the library made by itself (rejoin), as a dict, or None"},
    {"remove_subscription", (PyCFunction)context_remove_subscription, METH_O, NULL},
    {"subscription_count", (PyCFunction)context_subscription_count, METH_NOARGS, NULL},
    {"fileno", (PyCFunction)context_fileno, METH_NOARGS,
     "fd readable when any joined subscription has data"},
    {"recv_any_nowait", (PyCFunction)context_recv_any_nowait, METH_NOARGS, NULL},
    {"recv_any_with_metadata_nowait", (PyCFunction)context_recv_any_with_metadata_nowait,
     METH_NOARGS, NULL},
    {"recv_batch", (PyCFunction)(void (*)(void))context_recv_batch, METH_FASTCALL | METH_KEYWORDS,
     "recv_batch(max_packets=64) -> list[Packet]: what is available now, one recvmmsg per "
     "subscription turn"},
    {"recv_batch_with_metadata", (PyCFunction)(void (*)(void))context_recv_batch_with_metadata,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"recv_batch_into", (PyCFunction)(void (*)(void))context_recv_batch_into,
     METH_VARARGS | METH_KEYWORDS,
     "recv_batch_into(buffer, slot_size=2048) -> list[Packet]: payloads are memoryviews of "
     "buffer's slots, no copy"},
    {"wait", (PyCFunction)(void (*)(void))context_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> bool: block (without the GIL) until data may be there, at most "
     "timeout seconds (None or inf: no limit); False when the time ran out"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.Context",
    .tp_basicsize = sizeof(ContextObject),
    .tp_dealloc = (destructor)context_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Holds subscriptions; receives fairly across them.",
    .tp_methods = context_methods,
    .tp_new = context_new,
};

/* ---- Subscription ---------------------------------------------------------------- */

/* The live subscription, or NULL with SubscriptionNotFoundError (a
 * LookupError) once removed. */
static mcrx_subscription *sub_get(SubscriptionObject *s) {
    mcrx_subscription *sub = mcrx_context_get_subscription(s->owner->ctx, s->id);
    if (sub == NULL)
        raise_not_found(s->id);
    return sub;
}

static void sub_dealloc(SubscriptionObject *s) {
    Py_XDECREF(s->owner);
    PyObject_Free(s);
}

static PyObject *sub_join(SubscriptionObject *s, PyObject *unused) {
    (void)unused;
    if (mcrx_context_join_subscription(s->owner->ctx, s->id) != MCRX_STATUS_OK)
        return raise_ctx(s->owner->ctx);
    Py_RETURN_NONE;
}

static PyObject *sub_leave(SubscriptionObject *s, PyObject *unused) {
    (void)unused;
    if (mcrx_context_leave_subscription(s->owner->ctx, s->id) != MCRX_STATUS_OK)
        return raise_ctx(s->owner->ctx);
    Py_RETURN_NONE;
}

static PyObject *sub_remove(SubscriptionObject *s, PyObject *unused) {
    (void)unused;
    return PyBool_FromLong(mcrx_context_remove_subscription(s->owner->ctx, s->id) ==
                           MCRX_STATUS_OK);
}

static PyObject *sub_receive(SubscriptionObject *s, size_t n, int meta, int single) {
    mcrx_subscription *sub = sub_get(s);
    PyObject *r;
    int status;
    if (sub == NULL)
        return NULL;
    r = receive(&s->owner->rx, sub_recv_fn, sub, n, meta, single, &status);
    if (r == NULL && status != 0)
        return raise_sub(sub);
    return r;
}

static PyObject *sub_recv_nowait(SubscriptionObject *s, PyObject *unused) {
    (void)unused;
    return sub_receive(s, 1, 0, 1);
}
static PyObject *sub_recv_with_metadata_nowait(SubscriptionObject *s, PyObject *unused) {
    (void)unused;
    return sub_receive(s, 1, 1, 1);
}
static PyObject *sub_recv_batch(SubscriptionObject *s, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
    size_t n;
    if (parse_max(args, nargs, kwnames, &n) != 0)
        return NULL;
    return sub_receive(s, n, 0, 0);
}
static PyObject *sub_recv_batch_with_metadata(SubscriptionObject *s, PyObject *const *args,
                                              Py_ssize_t nargs, PyObject *kwnames) {
    size_t n;
    if (parse_max(args, nargs, kwnames, &n) != 0)
        return NULL;
    return sub_receive(s, n, 1, 0);
}

static PyObject *sub_recv_batch_into(SubscriptionObject *s, PyObject *args, PyObject *kw) {
    mcrx_subscription *sub = sub_get(s);
    PyObject *r;
    int status;
    if (sub == NULL)
        return NULL;
    r = receive_into(sub_recv_fn, sub, args, kw, &status);
    if (r == NULL && status != 0)
        return raise_sub(sub);
    return r;
}

static PyObject *sub_fileno(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    (void)unused;
    return sub == NULL ? NULL : PyLong_FromLong((long)mcrx_subscription_sock(sub));
}

static PyObject *sub_is_joined(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    (void)unused;
    return sub == NULL ? NULL : PyBool_FromLong(mcrx_subscription_state(sub) == MCRX_STATE_JOINED);
}

static PyObject *sub_state(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    (void)unused;
    if (sub == NULL)
        return NULL;
    return PyUnicode_FromString(mcrx_subscription_state(sub) == MCRX_STATE_JOINED ? "joined"
                                                                                  : "bound");
}

static PyObject *sub_local_addr(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    mcrx_ip ip;
    uint16_t port;
    (void)unused;
    if (sub == NULL)
        return NULL;
    if (mcrx_subscription_local_addr(sub, &ip, &port) != MCRX_STATUS_OK)
        return raise_sub(sub);
    return Py_BuildValue("(Ni)", ip_str(&ip), port);
}

static PyObject *sub_rcvbuf(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    size_t bytes;
    (void)unused;
    if (sub == NULL)
        return NULL;
    if (mcrx_subscription_rcvbuf(sub, &bytes) != MCRX_STATUS_OK)
        return raise_sub(sub);
    return PyLong_FromSize_t(bytes);
}

static PyObject *sub_metrics(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    mcrx_subscription_metrics m;
    (void)unused;
    if (sub == NULL)
        return NULL;
    if (mcrx_subscription_metrics_get(sub, &m) != MCRX_STATUS_OK)
        return raise_sub(sub);
    return fields_dict(&m, subscription_fields);
}

/* One dict per interface of the set: name, index (0 while absent), joined. */
static PyObject *sub_interfaces(SubscriptionObject *s, PyObject *unused) {
    mcrx_subscription *sub = sub_get(s);
    mcrx_interface_membership m[128];
    size_t n = 0, i;
    PyObject *list;
    (void)unused;
    if (sub == NULL)
        return NULL;
    if (mcrx_subscription_interfaces(sub, m, 128, &n) != MCRX_STATUS_OK)
        return raise_sub(sub);
    if (n > 128)
        n = 128;
    list = PyList_New((Py_ssize_t)n);
    for (i = 0; list != NULL && i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:I,s:O}", "name", m[i].interface_name, "index",
                                    (unsigned)m[i].interface_index, "joined",
                                    m[i].joined ? Py_True : Py_False);
        if (d == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    return list;
}

static const mcrx_subscription_config *sub_cfg(SubscriptionObject *s) {
    mcrx_subscription *sub = sub_get(s);
    return sub == NULL ? NULL : mcrx_subscription_get_config(sub);
}

static PyObject *sub_get_id(SubscriptionObject *s, void *c) {
    (void)c;
    return PyLong_FromUnsignedLongLong(s->id);
}
static PyObject *sub_get_group(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    (void)c;
    return cfg == NULL ? NULL : ip_str(&cfg->group);
}
static PyObject *sub_get_dst_port(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    (void)c;
    return cfg == NULL ? NULL : PyLong_FromLong(cfg->dst_port);
}
static PyObject *sub_get_source(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    (void)c;
    return cfg == NULL ? NULL : ip_str(&cfg->source);
}
static PyObject *sub_get_interface(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    mcrx_ip plain;
    (void)c;
    if (cfg == NULL)
        return NULL;
    plain = cfg->interface;
    plain.scope_id = 0;
    return ip_str(&plain);
}
static PyObject *sub_get_interface_index(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    (void)c;
    if (cfg == NULL)
        return NULL;
    if (cfg->interface_index == MCRX_NO_INTERFACE_INDEX)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(cfg->interface_index);
}
static PyObject *sub_get_join_mode(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    (void)c;
    if (cfg == NULL)
        return NULL;
    return PyUnicode_FromString(mcrx_subscription_config_is_ssm(cfg) ? "ssm" : "asm");
}

/* ('include' | 'exclude', [addresses]): the filter in force, sorted;
 * ASM is ('exclude', []), a single source ('include', [source]). */
static PyObject *sub_get_source_filter(SubscriptionObject *s, void *c) {
    const mcrx_subscription_config *cfg = sub_cfg(s);
    PyObject *list;
    uint32_t i, n;
    (void)c;
    if (cfg == NULL)
        return NULL;
    n = cfg->sources_mode != MCRX_SOURCES_NONE ? cfg->nsources
        : cfg->source.family != MCRX_IP_NONE   ? 1
                                               : 0;
    list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *ip = ip_str(cfg->sources_mode != MCRX_SOURCES_NONE ? &cfg->sources[i]
                                                                    : &cfg->source);
        if (ip == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, ip);
    }
    return Py_BuildValue("(sN)", mcrx_subscription_config_is_ssm(cfg) ? "include" : "exclude",
                         list);
}

static PyObject *sub_set_sources(SubscriptionObject *s, PyObject *args, PyObject *kw) {
    return set_sources(s->owner, s->id, args, kw);
}

static PyObject *sub_repr(SubscriptionObject *s) {
    return PyUnicode_FromFormat("<mcrx_core.Subscription id=%llu>", (unsigned long long)s->id);
}

static PyMethodDef sub_methods[] = {
    {"join", (PyCFunction)sub_join, METH_NOARGS, NULL},
    {"set_sources", (PyCFunction)(void (*)(void))sub_set_sources, METH_VARARGS | METH_KEYWORDS,
     "set_sources(*, include=None, exclude=None): replaces the source filter (full state)"},
    {"leave", (PyCFunction)sub_leave, METH_NOARGS, NULL},
    {"remove", (PyCFunction)sub_remove, METH_NOARGS, "remove from the context -> bool"},
    {"recv_nowait", (PyCFunction)sub_recv_nowait, METH_NOARGS, NULL},
    {"recv_with_metadata_nowait", (PyCFunction)sub_recv_with_metadata_nowait, METH_NOARGS, NULL},
    {"recv_batch", (PyCFunction)(void (*)(void))sub_recv_batch, METH_FASTCALL | METH_KEYWORDS,
     NULL},
    {"recv_batch_with_metadata", (PyCFunction)(void (*)(void))sub_recv_batch_with_metadata,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"recv_batch_into", (PyCFunction)(void (*)(void))sub_recv_batch_into,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"fileno", (PyCFunction)sub_fileno, METH_NOARGS, NULL},
    {"is_joined", (PyCFunction)sub_is_joined, METH_NOARGS, NULL},
    {"state", (PyCFunction)sub_state, METH_NOARGS, "'bound' or 'joined'"},
    {"local_addr", (PyCFunction)sub_local_addr, METH_NOARGS, "(ip, port) the socket is bound to"},
    {"rcvbuf", (PyCFunction)sub_rcvbuf, METH_NOARGS, "the socket's effective receive buffer"},
    {"metrics", (PyCFunction)sub_metrics, METH_NOARGS, "counters, kernel drops, discards (dict)"},
    {"interfaces", (PyCFunction)sub_interfaces, METH_NOARGS,
     "the interface set's memberships: [{'name', 'index', 'joined'}]"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef sub_getset[] = {
    {"id", (getter)sub_get_id, NULL, NULL, NULL},
    {"group", (getter)sub_get_group, NULL, NULL, NULL},
    {"dst_port", (getter)sub_get_dst_port, NULL, NULL, NULL},
    {"source", (getter)sub_get_source, NULL, NULL, NULL},
    {"interface", (getter)sub_get_interface, NULL, NULL, NULL},
    {"interface_index", (getter)sub_get_interface_index, NULL, NULL, NULL},
    {"join_mode", (getter)sub_get_join_mode, NULL, "'asm' or 'ssm'", NULL},
    {"source_filter", (getter)sub_get_source_filter, NULL,
     "('include' | 'exclude', [addresses]) in force, sorted", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SubscriptionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.Subscription",
    .tp_basicsize = sizeof(SubscriptionObject),
    .tp_dealloc = (destructor)sub_dealloc,
    .tp_repr = (reprfunc)sub_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A handle on one subscription of a Context (LookupError once removed).",
    .tp_methods = sub_methods,
    .tp_getset = sub_getset,
};

/* ---- RawPacket, RawContext (include/mcrx/raw.h) ------------------------------------ */

typedef struct {
    PyObject_HEAD
    uint64_t subscription_id;
    mcrx_ip source, group;
    uint32_t flags;
    unsigned int protocol, ttl;
    unsigned int ingress_interface_index;
    Py_ssize_t wire_len;
    PyObject *data; /* bytes: the IP datagram from its IP header on */
    PyObject *ids;  /* tuple: every matching subscription, ascending */
} RawPacketObject;

static PyTypeObject RawPacketType;

static void raw_packet_dealloc(RawPacketObject *p) {
    Py_XDECREF(p->data);
    Py_XDECREF(p->ids);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

/* A RawPacket of rp. Its matching ids: rp's ids array when it has one (a
 * shared capture: the slot's ids never truncate, see shared_receive), else
 * the one subscription of a raw context. */
static PyObject *raw_packet_new(const mcrx_raw_packet *rp) {
    RawPacketObject *p;
    PyObject *ids, *data;
    size_t i, nids = rp->ids != NULL ? rp->nids : 1;
    ids = PyTuple_New((Py_ssize_t)nids);
    if (ids == NULL)
        return NULL;
    for (i = 0; i < nids; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(rp->ids != NULL ? rp->ids[i] : rp->subscription_id);
        if (v == NULL) {
            Py_DECREF(ids);
            return NULL;
        }
        PyTuple_SET_ITEM(ids, (Py_ssize_t)i, v);
    }
    data = PyBytes_FromStringAndSize((const char *)rp->buf, (Py_ssize_t)rp->len);
    if (data == NULL) {
        Py_DECREF(ids);
        return NULL;
    }
    p = PyObject_New(RawPacketObject, &RawPacketType);
    if (p == NULL) {
        Py_DECREF(ids);
        Py_DECREF(data);
        return NULL;
    }
    p->subscription_id = rp->subscription_id;
    p->source = rp->source;
    p->group = rp->group;
    p->flags = rp->flags;
    p->protocol = rp->ip_protocol;
    p->ttl = rp->ttl;
    p->ingress_interface_index = rp->ingress_interface_index;
    p->wire_len = (Py_ssize_t)rp->wire_len;
    p->data = data;
    p->ids = ids;
    return (PyObject *)p;
}

static PyObject *raw_packet_get_source(RawPacketObject *p, void *c) {
    (void)c;
    return ip_str(&p->source);
}
static PyObject *raw_packet_get_group(RawPacketObject *p, void *c) {
    (void)c;
    return ip_str(&p->group);
}
static PyObject *raw_packet_get_data(RawPacketObject *p, void *c) {
    (void)c;
    Py_INCREF(p->data);
    return p->data;
}
static PyObject *raw_packet_get_ids(RawPacketObject *p, void *c) {
    (void)c;
    Py_INCREF(p->ids);
    return p->ids;
}
static PyObject *raw_packet_flag(RawPacketObject *p, void *bit) {
    return PyBool_FromLong((p->flags & (uint32_t)(uintptr_t)bit) != 0);
}
static PyObject *raw_packet_repr(RawPacketObject *p) {
    char src[MCRX_IP_STRLEN] = "", grp[MCRX_IP_STRLEN] = "";
    mcrx_ip_format(&p->source, src, sizeof src);
    mcrx_ip_format(&p->group, grp, sizeof grp);
    return PyUnicode_FromFormat("RawPacket(subscription_id=%llu, source='%s', group='%s', "
                                "protocol=%u, ttl=%u, ingress_interface_index=%u, len=%zd)",
                                (unsigned long long)p->subscription_id, src, grp, p->protocol,
                                p->ttl, p->ingress_interface_index, PyBytes_GET_SIZE(p->data));
}

static PyMemberDef raw_packet_members[] = {
    {"subscription_id", T_ULONGLONG, offsetof(RawPacketObject, subscription_id), READONLY, NULL},
    {"protocol", T_UINT, offsetof(RawPacketObject, protocol), READONLY,
     "IPv4 protocol / IPv6 next header (a fragment is 44)"},
    {"ttl", T_UINT, offsetof(RawPacketObject, ttl), READONLY, "TTL / hop limit"},
    {"ingress_interface_index", T_UINT, offsetof(RawPacketObject, ingress_interface_index),
     READONLY, "where it arrived (or was sent from this host)"},
    {"wire_len", T_PYSSIZET, offsetof(RawPacketObject, wire_len), READONLY,
     "the datagram's IP length (> len(data) when truncated)"},
    {NULL, 0, 0, 0, NULL}};
static PyGetSetDef raw_packet_getset[] = {
    {"source", (getter)raw_packet_get_source, NULL, "source IP, from the IP header", NULL},
    {"group", (getter)raw_packet_get_group, NULL, "destination group, from the IP header", NULL},
    {"data", (getter)raw_packet_get_data, NULL, "the whole IP datagram (bytes)", NULL},
    {"matching_subscription_ids", (getter)raw_packet_get_ids, NULL,
     "every subscription the datagram matches, ascending (a RawContext: its one)", NULL},
    {"truncated", (getter)raw_packet_flag, NULL, "longer than the receive slot",
     (void *)(uintptr_t)MCRX_DATAGRAM_TRUNCATED},
    {"checksum_not_ready", (getter)raw_packet_flag, NULL,
     "the transport checksum is partial (sent from this host): a forwarder recomputes it",
     (void *)(uintptr_t)MCRX_RAW_CSUM_NOT_READY},
    {"checksum_valid", (getter)raw_packet_flag, NULL,
     "the kernel or the NIC verified the transport checksum",
     (void *)(uintptr_t)MCRX_RAW_CSUM_VALID},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject RawPacketType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.RawPacket",
    .tp_basicsize = sizeof(RawPacketObject),
    .tp_dealloc = (destructor)raw_packet_dealloc,
    .tp_repr = (reprfunc)raw_packet_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One captured IP datagram (RawContext, SharedRawContext).",
    .tp_members = raw_packet_members,
    .tp_getset = raw_packet_getset,
};

/* Receive slots of a raw or shared context: slots of MCRX_RAW_MAX_DATAGRAM
 * bytes (never truncated), grown on demand, and for a shared capture an ids
 * array per slot as long as the subscription count (never truncated). */
typedef struct {
    unsigned char *arena;
    mcrx_raw_packet *pkts;
    size_t cap;
    uint64_t *ids;
    size_t idscap; /* entries in ids */
} rawslots;

static void rawslots_free(rawslots *b) {
    PyMem_Free(b->arena);
    PyMem_Free(b->pkts);
    PyMem_Free(b->ids);
}

typedef struct {
    PyObject_HEAD
    mcrx_raw_context *ctx;
    rawslots slots;
} RawContextObject;

static PyObject *raise_raw(const mcrx_raw_context *ctx) {
    return raise_kind(mcrx_raw_context_last_error_code(ctx), mcrx_raw_context_last_os_error(ctx),
                      mcrx_raw_context_last_error(ctx));
}

static PyObject *raw_context_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    RawContextObject *self;
    if (PyTuple_GET_SIZE(args) != 0 || (kw != NULL && PyDict_GET_SIZE(kw) != 0)) {
        PyErr_SetString(PyExc_TypeError, "RawContext() takes no arguments");
        return NULL;
    }
    self = (RawContextObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->ctx = mcrx_raw_context_new();
    if (self->ctx == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void raw_context_dealloc(RawContextObject *self) {
    mcrx_raw_context_free(self->ctx);
    rawslots_free(&self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *raw_context_add(RawContextObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"group", "source", "interface", NULL};
    const char *group, *source = NULL, *iface = NULL;
    mcrx_raw_config cfg;
    mcrx_error e;
    uint64_t id;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zz:add", names, &group, &source, &iface))
        return NULL;
    mcrx_raw_config_init(&cfg);
    e = mcrx_raw_config_parse(&cfg, group, source, iface);
    if (e != MCRX_ERROR_NONE)
        return raise_kind(e, 0, mcrx_last_error());
    if (mcrx_raw_context_add(self->ctx, &cfg, &id) != MCRX_STATUS_OK)
        return raise_raw(self->ctx);
    return PyLong_FromUnsignedLongLong(id);
}

typedef int (*raw_id_fn)(mcrx_raw_context *ctx, uint64_t id);

static PyObject *raw_context_id_call(RawContextObject *self, PyObject *arg, raw_id_fn fn) {
    unsigned long long id;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    if (fn(self->ctx, id) != MCRX_STATUS_OK)
        return raise_raw(self->ctx);
    Py_RETURN_NONE;
}
static PyObject *raw_context_join(RawContextObject *self, PyObject *arg) {
    return raw_context_id_call(self, arg, mcrx_raw_context_join_subscription);
}
static PyObject *raw_context_leave(RawContextObject *self, PyObject *arg) {
    return raw_context_id_call(self, arg, mcrx_raw_context_leave_subscription);
}
static PyObject *raw_context_remove(RawContextObject *self, PyObject *arg) {
    return raw_context_id_call(self, arg, mcrx_raw_context_remove_subscription);
}

static PyObject *raw_context_state(RawContextObject *self, PyObject *arg) {
    unsigned long long id;
    int st;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    st = mcrx_raw_context_subscription_state(self->ctx, id);
    if (st == 0)
        return raise_not_found(id);
    return PyUnicode_FromString(st == MCRX_STATE_JOINED ? "joined" : "bound");
}

static PyObject *raw_context_subscription_count(RawContextObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromSize_t(mcrx_raw_context_subscription_count(self->ctx));
}

static PyObject *raw_context_fileno(RawContextObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromLong((long)mcrx_raw_context_fd(self->ctx));
}

typedef int (*raw_recv_fn)(void *h, mcrx_raw_packet *pkts, size_t n, size_t *got);

/* Up to n datagrams (copied into bytes); a list, or for single the one
 * RawPacket or None. per_slot_ids 0: no ids array (a raw context). On
 * failure the receive's error is raised by fail(h). */
static PyObject *raw_receive(rawslots *b, raw_recv_fn fn, void *h, size_t n, int single,
                             size_t per_slot_ids, PyObject *(*fail)(void *h)) {
    PyObject *list;
    size_t got = 0, i;
    if (n > b->cap) {
        unsigned char *arena = PyMem_Realloc(b->arena, n * (size_t)MCRX_RAW_MAX_DATAGRAM);
        mcrx_raw_packet *pkts;
        if (arena == NULL)
            return PyErr_NoMemory();
        b->arena = arena;
        pkts = PyMem_Realloc(b->pkts, n * sizeof *pkts);
        if (pkts == NULL)
            return PyErr_NoMemory();
        b->pkts = pkts;
        b->cap = n;
    }
    if (per_slot_ids > 0 && n * per_slot_ids > b->idscap) {
        uint64_t *ids = PyMem_Realloc(b->ids, n * per_slot_ids * sizeof *ids);
        if (ids == NULL)
            return PyErr_NoMemory();
        b->ids = ids;
        b->idscap = n * per_slot_ids;
    }
    for (i = 0; i < n; i++) {
        mcrx_raw_packet_init(&b->pkts[i], b->arena + i * (size_t)MCRX_RAW_MAX_DATAGRAM,
                             MCRX_RAW_MAX_DATAGRAM);
        if (per_slot_ids > 0) {
            b->pkts[i].ids = b->ids + i * per_slot_ids;
            b->pkts[i].ids_cap = per_slot_ids;
        }
    }
    if (fn(h, b->pkts, n, &got) != MCRX_STATUS_OK)
        return fail(h);
    if (single) {
        if (got == 0)
            Py_RETURN_NONE;
        return raw_packet_new(&b->pkts[0]);
    }
    list = PyList_New((Py_ssize_t)got);
    if (list == NULL)
        return NULL;
    for (i = 0; i < got; i++) {
        PyObject *p = raw_packet_new(&b->pkts[i]);
        if (p == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, p);
    }
    return list;
}

static int raw_ctx_recv_fn(void *h, mcrx_raw_packet *pkts, size_t n, size_t *got) {
    return n == 1 ? mcrx_raw_context_recv(h, pkts, got) : mcrx_raw_context_recv_batch(h, pkts, n, got);
}

static PyObject *raw_fail(void *ctx) {
    return raise_raw(ctx);
}

static PyObject *raw_context_recv(RawContextObject *self, PyObject *unused) {
    (void)unused;
    return raw_receive(&self->slots, raw_ctx_recv_fn, self->ctx, 1, 1, 0, raw_fail);
}
static PyObject *raw_context_recv_batch(RawContextObject *self, PyObject *const *args,
                                        Py_ssize_t nargs, PyObject *kwnames) {
    size_t n;
    if (parse_max(args, nargs, kwnames, &n) != 0)
        return NULL;
    return raw_receive(&self->slots, raw_ctx_recv_fn, self->ctx, n, 0, 0, raw_fail);
}

static int raw_look(void *ctx, int *ready) {
    return mcrx_raw_context_wait(ctx, 0, ready);
}

static mcrx_sock raw_fd(void *ctx) {
    return mcrx_raw_context_fd(ctx);
}

static const wait_ops raw_wait_ops = {raw_look, raw_fd, raw_fail};

/* wait(timeout=None), as Context.wait: the GIL is released while polling. */
static PyObject *raw_context_wait(RawContextObject *self, PyObject *args, PyObject *kw) {
    return wait_loop(self->ctx, &raw_wait_ops, args, kw);
}

static PyObject *raw_context_metrics(RawContextObject *self, PyObject *unused) {
    mcrx_raw_metrics m;
    (void)unused;
    if (mcrx_raw_context_metrics_get(self->ctx, &m) != MCRX_STATUS_OK)
        return raise_raw(self->ctx);
    return Py_BuildValue("{sKsKsKsKsKsKsK}", "active_subscriptions",
                         (unsigned long long)m.active_subscriptions, "joined_subscriptions",
                         (unsigned long long)m.joined_subscriptions, "packets_received",
                         (unsigned long long)m.packets_received, "bytes_received",
                         (unsigned long long)m.bytes_received, "discarded",
                         (unsigned long long)m.discarded, "truncated",
                         (unsigned long long)m.truncated, "kernel_drops",
                         (unsigned long long)m.kernel_drops);
}

static PyMethodDef raw_context_methods[] = {
    {"add", (PyCFunction)(void (*)(void))raw_context_add, METH_VARARGS | METH_KEYWORDS,
     "add(group, source=None, interface=None) -> int: a capture in state bound (needs "
     "CAP_NET_RAW)"},
    {"join", (PyCFunction)raw_context_join, METH_O, "join(id): join and start capturing"},
    {"leave", (PyCFunction)raw_context_leave, METH_O, "leave(id): leave and stop capturing"},
    {"remove", (PyCFunction)raw_context_remove, METH_O, "remove(id): in either state"},
    {"state", (PyCFunction)raw_context_state, METH_O, "state(id) -> 'bound' or 'joined'"},
    {"subscription_count", (PyCFunction)raw_context_subscription_count, METH_NOARGS, NULL},
    {"fileno", (PyCFunction)raw_context_fileno, METH_NOARGS,
     "a descriptor readable when a capture may have a datagram"},
    {"recv", (PyCFunction)raw_context_recv, METH_NOARGS,
     "recv() -> RawPacket or None, without blocking"},
    {"recv_batch", (PyCFunction)(void (*)(void))raw_context_recv_batch,
     METH_FASTCALL | METH_KEYWORDS,
     "recv_batch(max_packets=64) -> list[RawPacket], without blocking (recvmmsg)"},
    {"wait", (PyCFunction)(void (*)(void))raw_context_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> bool: block (without the GIL) until a datagram may be there"},
    {"metrics", (PyCFunction)raw_context_metrics, METH_NOARGS, "metrics() -> dict"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject RawContextType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.RawContext",
    .tp_basicsize = sizeof(RawContextObject),
    .tp_dealloc = (destructor)raw_context_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Raw IP capture of multicast groups, one capture per subscription (Linux, "
              "CAP_NET_RAW).",
    .tp_methods = raw_context_methods,
    .tp_new = raw_context_new,
};

/* ---- SharedRawContext (mcrx_raw_shared) ---------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mcrx_raw_shared *sh;
    mcrx_raw_shared_limits limits;
    rawslots slots;
} SharedRawObject;

static PyObject *raise_shared(const mcrx_raw_shared *sh) {
    return raise_kind(mcrx_raw_shared_last_error_code(sh), mcrx_raw_shared_last_os_error(sh),
                      mcrx_raw_shared_last_error(sh));
}

static PyObject *shared_fail(void *sh) {
    return raise_shared(sh);
}

static PyObject *shared_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"max_subscriptions", "max_pending_packets", NULL};
    PyObject *subs = Py_None, *pending = Py_None;
    unsigned long long v;
    SharedRawObject *self;
    mcrx_raw_shared_limits l;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OO:SharedRawContext", names, &subs, &pending))
        return NULL;
    mcrx_raw_shared_limits_init(&l);
    /* 0 passes to the library, which names the limits error. */
    if (subs != Py_None) {
        if (int_arg(subs, "max_subscriptions", 0, UINT32_MAX, &v) != 0)
            return NULL;
        l.max_subscriptions = (uint32_t)v;
    }
    if (pending != Py_None) {
        if (int_arg(pending, "max_pending_packets", 0, UINT32_MAX, &v) != 0)
            return NULL;
        l.max_pending_packets = (uint32_t)v;
    }
    self = (SharedRawObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->sh = mcrx_raw_shared_new(&l);
    if (self->sh == NULL) {
        Py_DECREF(self);
        return raise_kind(mcrx_last_error_code(), 0, mcrx_last_error());
    }
    self->limits = l;
    return (PyObject *)self;
}

static void shared_dealloc(SharedRawObject *self) {
    mcrx_raw_shared_free(self->sh);
    rawslots_free(&self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *shared_add(SharedRawObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"group", "source", "interface", NULL};
    const char *group, *source = NULL, *iface = NULL;
    mcrx_raw_config cfg;
    mcrx_error e;
    uint64_t id;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zz:add", names, &group, &source, &iface))
        return NULL;
    mcrx_raw_config_init(&cfg);
    e = mcrx_raw_config_parse(&cfg, group, source, iface);
    if (e != MCRX_ERROR_NONE)
        return raise_kind(e, 0, mcrx_last_error());
    if (mcrx_raw_shared_add(self->sh, &cfg, &id) != MCRX_STATUS_OK)
        return raise_shared(self->sh);
    return PyLong_FromUnsignedLongLong(id);
}

typedef int (*shared_id_fn)(mcrx_raw_shared *sh, uint64_t id);

static PyObject *shared_id_call(SharedRawObject *self, PyObject *arg, shared_id_fn fn) {
    unsigned long long id;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    if (fn(self->sh, id) != MCRX_STATUS_OK)
        return raise_shared(self->sh);
    Py_RETURN_NONE;
}
static PyObject *shared_join(SharedRawObject *self, PyObject *arg) {
    return shared_id_call(self, arg, mcrx_raw_shared_join_subscription);
}
static PyObject *shared_leave(SharedRawObject *self, PyObject *arg) {
    return shared_id_call(self, arg, mcrx_raw_shared_leave_subscription);
}
static PyObject *shared_remove(SharedRawObject *self, PyObject *arg) {
    return shared_id_call(self, arg, mcrx_raw_shared_remove_subscription);
}

static PyObject *shared_state(SharedRawObject *self, PyObject *arg) {
    unsigned long long id;
    int st;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    st = mcrx_raw_shared_subscription_state(self->sh, id);
    if (st == 0)
        return raise_not_found(id);
    return PyUnicode_FromString(st == MCRX_STATE_JOINED ? "joined" : "bound");
}

static PyObject *shared_contains(SharedRawObject *self, PyObject *arg) {
    unsigned long long id;
    if (int_arg(arg, "subscription id", 0, UINT64_MAX, &id) != 0)
        return NULL;
    return PyBool_FromLong(mcrx_raw_shared_contains_subscription(self->sh, id));
}

static PyObject *shared_subscription_count(SharedRawObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromSize_t(mcrx_raw_shared_subscription_count(self->sh));
}

static PyObject *shared_fileno(SharedRawObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromLong((long)mcrx_raw_shared_fd(self->sh));
}

static int shared_recv_fn(void *h, mcrx_raw_packet *pkts, size_t n, size_t *got) {
    return n == 1 ? mcrx_raw_shared_recv(h, pkts, got) : mcrx_raw_shared_recv_batch(h, pkts, n, got);
}

/* Each slot's ids array holds as many ids as there are subscriptions: a
 * datagram matches at most all of them, so the tuple is never cut. */
static size_t shared_ids_per_slot(SharedRawObject *self) {
    size_t n = mcrx_raw_shared_subscription_count(self->sh);
    return n > 0 ? n : 1;
}

static PyObject *shared_recv(SharedRawObject *self, PyObject *unused) {
    (void)unused;
    return raw_receive(&self->slots, shared_recv_fn, self->sh, 1, 1, shared_ids_per_slot(self),
                       shared_fail);
}

static PyObject *shared_recv_batch(SharedRawObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames) {
    size_t n;
    if (parse_max(args, nargs, kwnames, &n) != 0)
        return NULL;
    return raw_receive(&self->slots, shared_recv_fn, self->sh, n, 0, shared_ids_per_slot(self),
                       shared_fail);
}

static int shared_look(void *sh, int *ready) {
    return mcrx_raw_shared_wait(sh, 0, ready);
}
static mcrx_sock shared_fd(void *sh) {
    return mcrx_raw_shared_fd(sh);
}
static const wait_ops shared_wait_ops = {shared_look, shared_fd, shared_fail};

static PyObject *shared_wait(SharedRawObject *self, PyObject *args, PyObject *kw) {
    return wait_loop(self->sh, &shared_wait_ops, args, kw);
}

#define F(type, field) {#field, offsetof(type, field)}
static const field_def shared_fields[] = {
    F(mcrx_raw_shared_metrics, capture_sockets), F(mcrx_raw_shared_metrics, active_memberships),
    F(mcrx_raw_shared_metrics, received_packets), F(mcrx_raw_shared_metrics, unmatched_packets),
    F(mcrx_raw_shared_metrics, demultiplex_matches), F(mcrx_raw_shared_metrics, pending_packets),
    F(mcrx_raw_shared_metrics, kernel_drops), {NULL, 0}};
#undef F

static PyObject *shared_metrics(SharedRawObject *self, PyObject *unused) {
    mcrx_raw_shared_metrics m;
    (void)unused;
    if (mcrx_raw_shared_metrics_get(self->sh, &m) != MCRX_STATUS_OK)
        return raise_shared(self->sh);
    return fields_dict(&m, shared_fields);
}

static PyObject *shared_limits(SharedRawObject *self, PyObject *unused) {
    (void)unused;
    return Py_BuildValue("{sIsI}", "max_subscriptions", (unsigned int)self->limits.max_subscriptions,
                         "max_pending_packets", (unsigned int)self->limits.max_pending_packets);
}

static PyMethodDef shared_methods[] = {
    {"add", (PyCFunction)(void (*)(void))shared_add, METH_VARARGS | METH_KEYWORDS,
     "add(group, source=None, interface=None) -> int: a subscription in state bound (no socket "
     "yet; duplicates allowed)"},
    {"join", (PyCFunction)shared_join, METH_O,
     "join(id): one kernel membership per (group, source) on the capture (needs CAP_NET_RAW)"},
    {"leave", (PyCFunction)shared_leave, METH_O,
     "leave(id): other subscriptions, duplicates included, go on; queued datagrams only it "
     "matched are dropped"},
    {"remove", (PyCFunction)shared_remove, METH_O, "remove(id): leaves first when joined"},
    {"state", (PyCFunction)shared_state, METH_O, "state(id) -> 'bound' or 'joined'"},
    {"contains", (PyCFunction)shared_contains, METH_O, "contains(id) -> bool"},
    {"subscription_count", (PyCFunction)shared_subscription_count, METH_NOARGS, NULL},
    {"fileno", (PyCFunction)shared_fileno, METH_NOARGS,
     "a descriptor readable when a capture may have a datagram (drain recv() before polling it)"},
    {"recv", (PyCFunction)shared_recv, METH_NOARGS,
     "recv() -> RawPacket or None, without blocking (one system call per batch: the rest is "
     "queued)"},
    {"recv_batch", (PyCFunction)(void (*)(void))shared_recv_batch, METH_FASTCALL | METH_KEYWORDS,
     "recv_batch(max_packets=64) -> list[RawPacket], without blocking"},
    {"wait", (PyCFunction)(void (*)(void))shared_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> bool: block (without the GIL) until a datagram may be there"},
    {"metrics", (PyCFunction)shared_metrics, METH_NOARGS, "metrics() -> dict"},
    {"limits", (PyCFunction)shared_limits, METH_NOARGS,
     "limits() -> {'max_subscriptions': int, 'max_pending_packets': int}"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject SharedRawType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mcrx_core.SharedRawContext",
    .tp_basicsize = sizeof(SharedRawObject),
    .tp_dealloc = (destructor)shared_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Shared raw IP capture: one capture per (family, interface) for any number of "
              "subscriptions; each datagram once, with every subscription it matches (Linux, "
              "CAP_NET_RAW).",
    .tp_methods = shared_methods,
    .tp_new = shared_new,
};

/* ---- module ------------------------------------------------------------------------ */

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_mcrx_core", "CPython bindings of libmcrx-core.", -1,
    NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__mcrx_core(void) {
    PyObject *m;
    PyTypeObject *types[] = {&PacketType,  &MetadataType,  &PwmType,      &ContextType,
                             &SubscriptionType, &RawPacketType, &RawContextType,
                             &SharedRawType};
    const char *names[] = {"Packet",       "ReceiveMetadata", "PacketWithMetadata", "Context",
                           "Subscription", "RawPacket",       "RawContext",
                           "SharedRawContext"};
    size_t i;
    for (i = 0; i < sizeof types / sizeof types[0]; i++)
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    m = PyModule_Create(&module);
    if (m == NULL || errors_init(m) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0)
            return NULL;
    }
    PyModule_AddStringConstant(m, "__version__", MCRX_VERSION_STRING);
    PyModule_AddIntConstant(m, "BATCH_MAX", BATCH_MAX);
    return m;
}
