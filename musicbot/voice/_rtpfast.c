/*
 * musicbot.voice._rtpfast: the voice sender's per-packet path in C (optional accelerator).
 *
 * Theory.  Every playing stream sends one datagram every 20 ms.  In Python, packing the RTP
 * header and nonce, calling AES-GCM through `cryptography` and handing three parts to
 * os.writev cost about as much CPU as the kernel's send itself.  Here one call builds the
 * whole "rtpsize" datagram (protocol.md section 2) in one buffer, seals it with OpenSSL's
 * AES-256-GCM on a cipher context keyed once per session key, and write()s it to the
 * connected non-blocking UDP socket.  The datagram is byte for byte the one the pure-Python
 * path (musicbot/voice/rtp.py) builds; tests/voice/test_rtp.py checks both against each other
 * and against the receive side.
 *
 *     header (12 B: 0x80 0x78 seq:u16 timestamp:u32 ssrc:u32) | AES-GCM(payload) | tag (16 B)
 *     | nonce counter:u32
 *
 * The 12-byte GCM nonce is the u32 counter, big-endian, followed by eight zero bytes.
 *
 * Types.
 *   AesGcmKey(key: bytes)       one session key (32 bytes); its cipher context is reused for
 *                               every packet (only the nonce changes).
 *   RtpPacketizer(*, ssrc=0, seq=0, timestamp=0, nonce=0)
 *                               the same counters and methods as rtp.PyRtpPacketizer, plus
 *                               send_aes(key, fd, payload).
 *
 * Concurrency.  Nothing here releases the GIL: a call runs to its end before any other Python
 * code touches the same context or counters (the bot sends from one Trio thread anyway).
 * Counters advance before the send, as in Python: a datagram the kernel refuses is a lost
 * packet (a gap in seq), never a reused nonce.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define HEADER_SIZE 12
#define TAG_SIZE 16
#define SUFFIX_SIZE 4
#define OVERHEAD (HEADER_SIZE + TAG_SIZE + SUFFIX_SIZE)
#define STACK_PACKET 2048 /* larger payloads (never seen from Opus) use the heap */
#define MAX_PAYLOAD (65507 - OVERHEAD) /* the largest UDP/IPv4 datagram */
#define SAMPLES_PER_FRAME 960u

static const EVP_CIPHER *aes_256_gcm; /* fetched once at import */

/* ---- AesGcmKey ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
} AesGcmKey;

static PyTypeObject AesGcmKeyType;

static int
key_init(AesGcmKey *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"key", NULL};
    Py_buffer key;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*:AesGcmKey", names, &key)) {
        return -1;
    }
    if (key.len != 32) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "a voice session key is 32 bytes");
        return -1;
    }
    if (self->ctx == NULL) {
        self->ctx = EVP_CIPHER_CTX_new();
    }
    int ok = self->ctx != NULL
             && EVP_EncryptInit_ex(self->ctx, aes_256_gcm, NULL, NULL, NULL) == 1
             && EVP_CIPHER_CTX_ctrl(self->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1
             && EVP_EncryptInit_ex(self->ctx, NULL, NULL, (const unsigned char *)key.buf, NULL)
                    == 1;
    PyBuffer_Release(&key);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not set up AES-256-GCM");
        return -1;
    }
    return 0;
}

static void
key_dealloc(AesGcmKey *self)
{
    if (self->ctx != NULL) {
        EVP_CIPHER_CTX_free(self->ctx); /* wipes the key schedule */
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Seal packet[HEADER_SIZE, HEADER_SIZE + n) in place (header as associated data), append the
 * tag; the nonce counter is already in packet[HEADER_SIZE + n + TAG_SIZE, +4). */
static int
seal_in_place(EVP_CIPHER_CTX *ctx, unsigned char *packet, int n)
{
    unsigned char iv[12] = {0};
    int len = 0;
    memcpy(iv, packet + HEADER_SIZE + n + TAG_SIZE, SUFFIX_SIZE);
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1
        || EVP_EncryptUpdate(ctx, NULL, &len, packet, HEADER_SIZE) != 1
        || EVP_EncryptUpdate(ctx, packet + HEADER_SIZE, &len, packet + HEADER_SIZE, n) != 1
        || EVP_EncryptFinal_ex(ctx, packet + HEADER_SIZE + n, &len) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_SIZE, packet + HEADER_SIZE + n)
               != 1) {
        return -1;
    }
    return 0;
}

static PyTypeObject AesGcmKeyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "musicbot.voice._rtpfast.AesGcmKey",
    .tp_doc = PyDoc_STR("AesGcmKey(key): one 32-byte voice session key for AES-256-GCM."),
    .tp_basicsize = sizeof(AesGcmKey),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)key_init,
    .tp_dealloc = (destructor)key_dealloc,
};

/* ---- RtpPacketizer --------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    uint32_t ssrc;
    uint32_t timestamp;
    uint32_t nonce;
    uint16_t seq;
    PyObject *header; /* bytearray(12), rewritten by next_packet_parts */
    PyObject *suffix; /* bytearray(4) */
} Packetizer;

static void
put_u32(unsigned char *at, uint32_t value)
{
    at[0] = (unsigned char)(value >> 24);
    at[1] = (unsigned char)(value >> 16);
    at[2] = (unsigned char)(value >> 8);
    at[3] = (unsigned char)value;
}

static void
put_header(const Packetizer *self, unsigned char *at)
{
    at[0] = 0x80; /* version 2, no padding, no extension, no CSRC */
    at[1] = 0x78; /* payload type 120: Opus */
    at[2] = (unsigned char)(self->seq >> 8);
    at[3] = (unsigned char)self->seq;
    put_u32(at + 4, self->timestamp);
    put_u32(at + 8, self->ssrc);
}

static void
advance(Packetizer *self)
{
    self->seq = (uint16_t)(self->seq + 1u);
    self->timestamp += SAMPLES_PER_FRAME; /* u32 arithmetic wraps at 2^32 */
    self->nonce += 1u;
}

/* Python's ``value % 2**bits`` for any int (two's complement masking is the same thing). */
static int
masked(PyObject *value, unsigned long mask, unsigned long *out)
{
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "RTP counters are ints");
        return -1;
    }
    unsigned long raw = PyLong_AsUnsignedLongMask(value);
    if (raw == (unsigned long)-1 && PyErr_Occurred()) {
        return -1;
    }
    *out = raw & mask;
    return 0;
}

static int
packetizer_init(Packetizer *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"ssrc", "seq", "timestamp", "nonce", NULL};
    PyObject *ssrc = NULL, *seq = NULL, *timestamp = NULL, *nonce = NULL;
    unsigned long v;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO:RtpPacketizer", names, &ssrc, &seq,
                                     &timestamp, &nonce)) {
        return -1;
    }
    self->ssrc = self->timestamp = self->nonce = 0;
    self->seq = 0;
    if (ssrc != NULL) {
        if (masked(ssrc, 0xFFFFFFFFul, &v) < 0) return -1;
        self->ssrc = (uint32_t)v;
    }
    if (seq != NULL) {
        if (masked(seq, 0xFFFFul, &v) < 0) return -1;
        self->seq = (uint16_t)v;
    }
    if (timestamp != NULL) {
        if (masked(timestamp, 0xFFFFFFFFul, &v) < 0) return -1;
        self->timestamp = (uint32_t)v;
    }
    if (nonce != NULL) {
        if (masked(nonce, 0xFFFFFFFFul, &v) < 0) return -1;
        self->nonce = (uint32_t)v;
    }
    if (self->header == NULL) {
        self->header = PyByteArray_FromStringAndSize(NULL, HEADER_SIZE);
        self->suffix = PyByteArray_FromStringAndSize(NULL, SUFFIX_SIZE);
        if (self->header == NULL || self->suffix == NULL) return -1;
        memset(PyByteArray_AS_STRING(self->header), 0, HEADER_SIZE);
        memset(PyByteArray_AS_STRING(self->suffix), 0, SUFFIX_SIZE);
    }
    return 0;
}

static void
packetizer_dealloc(Packetizer *self)
{
    Py_XDECREF(self->header);
    Py_XDECREF(self->suffix);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
get_counter(Packetizer *self, void *which)
{
    switch ((intptr_t)which) {
    case 0: return PyLong_FromUnsignedLong(self->ssrc);
    case 1: return PyLong_FromUnsignedLong(self->seq);
    case 2: return PyLong_FromUnsignedLong(self->timestamp);
    default: return PyLong_FromUnsignedLong(self->nonce);
    }
}

static int
set_counter(Packetizer *self, PyObject *value, void *which)
{
    unsigned long v;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "RTP counters cannot be deleted");
        return -1;
    }
    if (masked(value, (intptr_t)which == 1 ? 0xFFFFul : 0xFFFFFFFFul, &v) < 0) return -1;
    switch ((intptr_t)which) {
    case 0: self->ssrc = (uint32_t)v; break;
    case 1: self->seq = (uint16_t)v; break;
    case 2: self->timestamp = (uint32_t)v; break;
    default: self->nonce = (uint32_t)v; break;
    }
    return 0;
}

static PyGetSetDef packetizer_getset[] = {
    {"ssrc", (getter)get_counter, (setter)set_counter, "the stream's SSRC", (void *)0},
    {"seq", (getter)get_counter, (setter)set_counter, "next RTP sequence number", (void *)1},
    {"timestamp", (getter)get_counter, (setter)set_counter, "next RTP timestamp", (void *)2},
    {"nonce", (getter)get_counter, (setter)set_counter, "next AEAD nonce counter", (void *)3},
    {NULL},
};

/* next_packet_parts(cipher, payload) -> (header, sealed, suffix), the scatter/gather form for
 * any cipher (XChaCha20 among them): cipher.seal(header, payload, nonce) does the sealing. */
static PyObject *
packetizer_next_packet_parts(Packetizer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "next_packet_parts(cipher, payload)");
        return NULL;
    }
    /* The buffers were handed out by the last call: if a caller resized one (or __init__
     * never ran), write into a fresh one instead of past its end. */
    if (self->header == NULL || PyByteArray_GET_SIZE(self->header) != HEADER_SIZE) {
        Py_XSETREF(self->header, PyByteArray_FromStringAndSize(NULL, HEADER_SIZE));
        if (self->header == NULL) return NULL;
    }
    if (self->suffix == NULL || PyByteArray_GET_SIZE(self->suffix) != SUFFIX_SIZE) {
        Py_XSETREF(self->suffix, PyByteArray_FromStringAndSize(NULL, SUFFIX_SIZE));
        if (self->suffix == NULL) return NULL;
    }
    put_header(self, (unsigned char *)PyByteArray_AS_STRING(self->header));
    put_u32((unsigned char *)PyByteArray_AS_STRING(self->suffix), self->nonce);
    PyObject *nonce = PyLong_FromUnsignedLong(self->nonce);
    if (nonce == NULL) return NULL;
    PyObject *sealed = PyObject_CallMethod(args[0], "seal", "OOO", self->header, args[1], nonce);
    Py_DECREF(nonce);
    if (sealed == NULL) return NULL;
    advance(self);
    PyObject *parts = PyTuple_Pack(3, self->header, sealed, self->suffix);
    Py_DECREF(sealed);
    return parts;
}

static PyObject *
packetizer_skip_frame(Packetizer *self, PyObject *Py_UNUSED(ignored))
{
    self->timestamp += SAMPLES_PER_FRAME; /* time moves on, no packet: seq stays */
    Py_RETURN_NONE;
}

/* send_aes(key, fd, payload): build, seal and write() one datagram; OSError if the kernel
 * refuses it (BlockingIOError when the socket buffer is full, EBADF for a closed socket). */
static PyObject *
packetizer_send_aes(Packetizer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "send_aes(key, fd, payload)");
        return NULL;
    }
    if (!PyObject_TypeCheck(args[0], &AesGcmKeyType)) {
        PyErr_SetString(PyExc_TypeError, "send_aes needs an AesGcmKey");
        return NULL;
    }
    EVP_CIPHER_CTX *ctx = ((AesGcmKey *)args[0])->ctx;
    if (ctx == NULL) {
        PyErr_SetString(PyExc_ValueError, "the AesGcmKey was never initialised");
        return NULL;
    }
    long fd = PyLong_AsLong(args[1]);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    if (fd < 0 || fd > INT_MAX) {
        errno = EBADF;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[2], &view, PyBUF_SIMPLE) < 0) return NULL;
    if (view.len > MAX_PAYLOAD) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "payload too large for one datagram");
        return NULL;
    }
    int n = (int)view.len;
    size_t total = (size_t)n + OVERHEAD;
    unsigned char stack[STACK_PACKET];
    unsigned char *packet = total <= sizeof stack ? stack : PyMem_Malloc(total);
    if (packet == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    put_header(self, packet);
    memcpy(packet + HEADER_SIZE, view.buf, (size_t)n);
    PyBuffer_Release(&view);
    put_u32(packet + HEADER_SIZE + n + TAG_SIZE, self->nonce);
    advance(self);
    PyObject *result = NULL;
    if (seal_in_place(ctx, packet, n) < 0) {
        PyErr_SetString(PyExc_ValueError, "AES-256-GCM failed to seal the packet");
    }
    else if (write((int)fd, packet, total) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
    }
    else {
        result = Py_NewRef(Py_None);
    }
    if (packet != stack) {
        PyMem_Free(packet);
    }
    return result;
}

static PyObject *
packetizer_repr(Packetizer *self)
{
    return PyUnicode_FromFormat("RtpPacketizer(ssrc=%lu, seq=%lu, timestamp=%lu, nonce=%lu)",
                                (unsigned long)self->ssrc, (unsigned long)self->seq,
                                (unsigned long)self->timestamp, (unsigned long)self->nonce);
}

static PyMethodDef packetizer_methods[] = {
    {"next_packet_parts", (PyCFunction)(void (*)(void))packetizer_next_packet_parts,
     METH_FASTCALL, "Header, sealed payload and nonce suffix of the next packet."},
    {"skip_frame", (PyCFunction)packetizer_skip_frame, METH_NOARGS,
     "A frame was dropped: time moves on, seq does not."},
    {"send_aes", (PyCFunction)(void (*)(void))packetizer_send_aes, METH_FASTCALL,
     "Build, AES-GCM seal and write() the next datagram to fd."},
    {NULL},
};

static PyTypeObject PacketizerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "musicbot.voice._rtpfast.RtpPacketizer",
    .tp_doc = PyDoc_STR("RTP counters of one outgoing stream, with a C send path."),
    .tp_basicsize = sizeof(Packetizer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)packetizer_init,
    .tp_dealloc = (destructor)packetizer_dealloc,
    .tp_repr = (reprfunc)packetizer_repr,
    .tp_methods = packetizer_methods,
    .tp_getset = packetizer_getset,
};

/* ---- module ---------------------------------------------------------------------------- */

static struct PyModuleDef rtpfast_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "musicbot.voice._rtpfast",
    .m_doc = "The voice sender's per-packet path in C: RTP header, AES-256-GCM, write().",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__rtpfast(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    aes_256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); /* no lookup per context */
#else
    aes_256_gcm = EVP_aes_256_gcm();
#endif
    if (aes_256_gcm == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL has no AES-256-GCM");
        return NULL;
    }
    if (PyType_Ready(&AesGcmKeyType) < 0 || PyType_Ready(&PacketizerType) < 0) return NULL;
    PyObject *module = PyModule_Create(&rtpfast_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "AesGcmKey", (PyObject *)&AesGcmKeyType) < 0
        || PyModule_AddObjectRef(module, "RtpPacketizer", (PyObject *)&PacketizerType) < 0
        || PyModule_AddStringConstant(module, "OPENSSL_VERSION",
                                      OpenSSL_version(OPENSSL_VERSION)) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
