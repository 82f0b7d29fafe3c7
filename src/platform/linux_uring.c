/*
 * Linux's io_uring receive backend: one ring per endpoint with a multishot
 * recvmsg on the subscription's UDP socket, fed from a ring of provided
 * buffers the library registers itself (liburing 2.3 has no
 * io_uring_setup_buf_ring). The socket, its options and its memberships are
 * the UDP backend's (its open, adopt and apply are called as they are); only
 * the receive differs. Views into the provided buffers are handed to the
 * core (MCRX__CAP_VIEWS) and the buffers go back to the kernel at the
 * endpoint's next receive call.
 *
 * Built with liburing when CMake finds it (MCRX_HAVE_LIBURING); otherwise
 * (the Python extension, which leaves liburing out) the backend is reported
 * as not supported and contexts fall back to the UDP backend.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"

#ifdef MCRX_HAVE_LIBURING
#include <liburing.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* Room for the sender's address and the control messages in each buffer,
 * before the payload (io_uring_recvmsg_out's layout). The kernel puts the
 * control messages right after the name's room: a multiple of 8 keeps them
 * aligned for struct cmsghdr. */
#define NAME_ROOM ((((unsigned)sizeof(struct sockaddr_in6)) + 7u) & ~7u)
#define CTRL_ROOM 256u

typedef struct uring_backend {
    mcrx__backend be; /* first: ep->be points here */
    unsigned nbufs;   /* power of two */
    size_t room;      /* payload bytes per buffer */
    /* The context's reference and one per endpoint: a subscription taken
     * out of its context (mcrx_context_take_subscription) outlives it. */
    unsigned refs;
} uring_backend;

typedef struct uring_state {
    uring_backend *ub;
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    unsigned char *bufs;
    size_t stride, buflen, bufs_bytes; /* buflen: header room + payload room */
    unsigned nbufs;
    struct msghdr tmpl; /* what the multishot request reserves per buffer */
    int armed;
    /* Buffers lent out as views by the last receive call. */
    unsigned short lent[MCRX__RX_CHUNK];
    size_t nlent;
    /* A failure met after some datagrams: reported by the next call. */
    int pending_os;
} uring_state;

static mcrx_error uring_fail(mcrx__err *err, mcrx_error code, int os, const char *what) {
    char text[128];
    const char *knob = NULL;
    mcrx__os_error_text(os, text, sizeof text);
    if (os == EPERM || os == ENOSYS || os == EACCES)
        knob = "io_uring is refused here: the sysctl kernel.io_uring_disabled, a seccomp "
               "profile (containers) or a kernel built without it";
    else if (os == ENOMEM)
        knob = "ring memory is charged to the locked-memory limit on older kernels: raise "
               "ulimit -l (RLIMIT_MEMLOCK), or fewer ring buffers";
    else if (os == EMFILE)
        knob = "open file limit reached; raise it with ulimit -n (RLIMIT_NOFILE)";
    else if (os == EINVAL)
        knob = "multishot recvmsg with provided buffers needs Linux 6.0 or later";
    if (knob != NULL)
        return mcrx__fail(err, code, os, "%s: %s (errno %d): %s", what, text, os, knob);
    return mcrx__fail(err, code, os, "%s: %s (errno %d)", what, text, os);
}

static void backend_unref(uring_backend *ub) {
    if (ub != NULL && __atomic_sub_fetch(&ub->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(ub);
}

static void state_free(uring_state *st) {
    if (st == NULL)
        return;
    backend_unref(st->ub);
    /* Exiting the ring cancels the multishot request before the buffers go. */
    if (st->ring.ring_fd >= 0)
        io_uring_queue_exit(&st->ring);
    if (st->br != NULL)
        munmap(st->br, st->br_bytes);
    if (st->bufs != NULL)
        munmap(st->bufs, st->bufs_bytes);
    free(st);
}

/* Gives buffer bid back to the kernel (made visible by publish()). */
static void give_back(uring_state *st, unsigned short bid, int offset) {
    io_uring_buf_ring_add(st->br, st->bufs + (size_t)bid * st->stride, (unsigned)st->buflen, bid,
                          io_uring_buf_ring_mask(st->nbufs), offset);
}

static mcrx_error arm(uring_state *st, int fd, mcrx__err *err) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
    int r;
    if (sqe == NULL) /* never: every arm is submitted at once */
        return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, 0, "io_uring: submission queue full");
    /* MSG_TRUNC: the reported payload length is the datagram's, not what fit. */
    io_uring_prep_recvmsg_multishot(sqe, fd, &st->tmpl, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    do
        r = io_uring_submit(&st->ring);
    while (r == -EINTR);
    if (r < 0)
        return uring_fail(err, MCRX_ERROR_RECEIVE_FAILED, -r, "io_uring_enter (recvmsg)");
    st->armed = 1;
    return 0;
}

/* The ring, the buffer ring and the armed request for the socket the UDP
 * backend has opened or adopted in ep. */
static mcrx_error ring_open(mcrx__endpoint *ep, mcrx__err *err) {
    const uring_backend *ub = (const uring_backend *)ep->be;
    struct io_uring_params p;
    struct io_uring_buf_reg reg;
    uring_state *st = calloc(1, sizeof *st);
    unsigned i;
    int r;
    if (st == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "io_uring endpoint");
    st->ring.ring_fd = -1;
    st->nbufs = ub->nbufs;
    st->tmpl.msg_namelen = NAME_ROOM;
    st->tmpl.msg_controllen = ep->cmsgs ? CTRL_ROOM : 0;
    st->buflen = sizeof(struct io_uring_recvmsg_out) + NAME_ROOM + st->tmpl.msg_controllen +
                 ub->room;
    st->stride = (st->buflen + 63) & ~(size_t)63; /* each buffer on its own cache lines */

    /* Room for every buffer's completion and the final one: the multishot
     * request never has more outstanding. The default task-work mode (an
     * interrupt, not COOP_TASKRUN): the request runs as task work of the
     * thread that armed it, and another thread may be the one waiting on
     * the ring, so that work must not wait for the armer's next system
     * call. */
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = st->nbufs * 2 < 64 ? 64 : st->nbufs * 2;
    r = io_uring_queue_init_params(4, &st->ring, &p);
    if (r < 0) {
        st->ring.ring_fd = -1;
        free(st);
        return uring_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, -r, "io_uring_setup");
    }

    st->br_bytes = st->nbufs * sizeof(struct io_uring_buf);
    st->br = mmap(NULL, st->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* Untouched pages cost nothing: a buffer's pages are faulted in when a
     * datagram first lands there, so large buffers cost address space. */
    st->bufs_bytes = st->stride * st->nbufs;
    st->bufs = mmap(NULL, st->bufs_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (st->br == MAP_FAILED || st->bufs == MAP_FAILED) {
        int os = errno;
        if (st->br == MAP_FAILED)
            st->br = NULL;
        if (st->bufs == MAP_FAILED)
            st->bufs = NULL;
        state_free(st);
        return uring_fail(err, MCRX_ERROR_OUT_OF_MEMORY, os, "mmap (io_uring buffers)");
    }
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)st->br;
    reg.ring_entries = st->nbufs;
    reg.bgid = 0;
    r = io_uring_register_buf_ring(&st->ring, &reg, 0);
    if (r < 0) {
        state_free(st);
        return uring_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, -r,
                          "io_uring_register (IORING_REGISTER_PBUF_RING)");
    }
    io_uring_buf_ring_init(st->br);
    for (i = 0; i < st->nbufs; i++)
        give_back(st, (unsigned short)i, (int)i);
    io_uring_buf_ring_advance(st->br, (int)st->nbufs);
    /* Armed now, so the ring's fd becomes readable once datagrams come,
     * whoever waits on it. */
    r = arm(st, (int)ep->sock, err);
    if (r != 0) {
        state_free(st);
        return r;
    }
    st->ub = (uring_backend *)(uintptr_t)ub;
    __atomic_add_fetch(&st->ub->refs, 1, __ATOMIC_ACQ_REL);
    ep->state = st;
    return 0;
}

static mcrx_error uring_open(const mcrx_subscription_config *cfg, mcrx__endpoint *ep,
                             mcrx__err *err) {
    mcrx_error rc = mcrx__udp_backend.open(cfg, ep, err);
    if (rc != 0)
        return rc;
    rc = ring_open(ep, err);
    if (rc != 0)
        mcrx__udp_backend.close(ep, 0);
    return rc;
}

static mcrx_error uring_adopt(const mcrx_subscription_config *cfg, mcrx_sock sock,
                              mcrx__endpoint *ep, mcrx__err *err) {
    mcrx_error rc = mcrx__udp_backend.adopt(cfg, sock, ep, err);
    return rc != 0 ? rc : ring_open(ep, err);
}

static mcrx_error uring_apply(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                              const mcrx__filter *to, mcrx__err *err) {
    /* A pinned IPv6 join turns pktinfo on (cmsgs 1) after the ring was
     * sized without control room: the reports would not fit, so the
     * user-space check would drop every datagram. Make the room now. */
    int had = ep->cmsgs;
    mcrx_error rc = mcrx__udp_backend.apply(ep, ifindex, from, to, err);
    uring_state *st = ep->state;
    if (rc == 0 && !had && ep->cmsgs && st != NULL && st->tmpl.msg_controllen == 0) {
        mcrx__endpoint fresh = *ep;
        uring_state *old = st;
        rc = ring_open(&fresh, err);
        if (rc == 0) {
            ep->state = fresh.state;
            state_free(old);
        }
    }
    return rc;
}

static void uring_close(mcrx__endpoint *ep, int keep_sock) {
    state_free(ep->state);
    ep->state = NULL;
    mcrx__udp_backend.close(ep, keep_sock);
}

static mcrx_sock uring_wait_handle(const mcrx__endpoint *ep) {
    const uring_state *st = ep->state;
    return st->ring.ring_fd;
}

/* Fills a view from a completion carrying a datagram in buffer bid;
 * 0 when the buffer's header is malformed (never from a sound kernel). */
static int fill_view(uring_state *st, unsigned short bid, int res, mcrx__rxview *v) {
    unsigned char *buf = st->bufs + (size_t)bid * st->stride;
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, &st->tmpl);
    if (o == NULL)
        return 0;
    v->data = io_uring_recvmsg_payload(o, &st->tmpl);
    v->len = io_uring_recvmsg_payload_length(o, res, &st->tmpl);
    v->wire_len = o->payloadlen;
    v->flags = (o->flags & MSG_TRUNC) || v->wire_len > v->len ? MCRX_DATAGRAM_TRUNCATED : 0;
    if (o->namelen > NAME_ROOM ||
        mcrx_ip_from_sockaddr(io_uring_recvmsg_name(o), &v->source, &v->source_port) !=
            MCRX_ERROR_NONE) {
        memset(&v->source, 0, sizeof v->source);
        v->source_port = 0;
    }
    memset(&v->info, 0, sizeof v->info);
    /* A cut chain is not trusted (as the UDP backend). */
    if (st->tmpl.msg_controllen > 0 && !(o->flags & MSG_CTRUNC) &&
        o->controllen <= st->tmpl.msg_controllen)
        mcrx__plat_parse_cmsgs((unsigned char *)io_uring_recvmsg_name(o) + NAME_ROOM,
                               o->controllen, &v->info);
    return 1;
}

static mcrx_error recv_failed(mcrx__err *err, int os) {
    char text[128];
    mcrx__os_error_text(os, text, sizeof text);
    return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, os, "io_uring recvmsg: %s (errno %d)%s",
                      text, os,
                      os == EBADF || os == ENOTSOCK
                          ? ": its socket was closed outside the library"
                          : "");
}

static mcrx_error uring_recv_views(mcrx__endpoint *ep, mcrx__rxview *views, size_t n,
                                   size_t *got, mcrx__err *err) {
    uring_state *st = ep->state;
    int fd = (int)ep->sock, rearmed = 0, os = 0;
    size_t i, k = 0;

    *got = 0;
    if (n > MCRX__RX_CHUNK)
        n = MCRX__RX_CHUNK;
    /* The last call's views are over: their buffers go back. */
    for (i = 0; i < st->nlent; i++)
        give_back(st, st->lent[i], (int)i);
    if (st->nlent > 0)
        io_uring_buf_ring_advance(st->br, (int)st->nlent);
    st->nlent = 0;
    if (st->pending_os != 0) {
        os = st->pending_os;
        st->pending_os = 0;
        return recv_failed(err, os);
    }

    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        if (!st->armed && !rearmed && st->nlent < st->nbufs) {
            /* Ended (buffers ran out, ENOBUFS, or cancelled): the buffers
             * are back, so arm again; the submit receives what is queued. */
            if (arm(st, fd, err) != 0) {
                if (k == 0)
                    return err->code;
                os = err->os != 0 ? err->os : EIO; /* after the datagrams, next call */
                break;
            }
            rearmed = 1;
        }
        io_uring_for_each_cqe(&st->ring, head, cqe) {
            unsigned flags = cqe->flags;
            int res = cqe->res;
            if (k == n || st->nlent == MCRX__RX_CHUNK)
                break;
            seen++;
            if (!(flags & IORING_CQE_F_MORE))
                st->armed = 0;
            if (res < 0) {
                if (res != -ENOBUFS && res != -ECANCELED && os == 0)
                    os = -res;
                continue;
            }
            if (!(flags & IORING_CQE_F_BUFFER))
                continue;
            {
                unsigned short bid = (unsigned short)(flags >> IORING_CQE_BUFFER_SHIFT);
                st->lent[st->nlent++] = bid;
                if (fill_view(st, bid, res, &views[k]))
                    k++;
            }
        }
        io_uring_cq_advance(&st->ring, seen);
        /* Done when full, failed, still armed (the queue is drained), or
         * ended again with every buffer lent out or after a re-arm. */
        if (k == n || st->nlent == MCRX__RX_CHUNK || os != 0 || st->armed || rearmed ||
            st->nlent >= st->nbufs)
            break;
    }
    /* Never left disarmed, so a wait on the ring cannot sleep through a
     * queued datagram: with no buffer free the new request ends at once
     * with ENOBUFS, and after a failure it fails again at once if the cause
     * stays; either makes the ring readable for the next call. */
    if (!st->armed) {
        mcrx__err ignored;
        if (arm(st, fd, os != 0 ? &ignored : err) != 0 && os == 0) {
            if (k == 0)
                return err->code;
            st->pending_os = err->os != 0 ? err->os : EIO;
        }
    }
    if (os != 0) {
        if (k == 0)
            return recv_failed(err, os);
        st->pending_os = os;
    }
    *got = k;
    return 0;
}

mcrx_error mcrx__plat_uring_backend(unsigned nbufs, size_t room, const mcrx__backend **out,
                                    mcrx__err *err) {
    struct io_uring probe;
    uring_backend *ub;
    int r;
    *out = NULL;
    if (nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1)) != 0)
        return mcrx__fail(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                          "ring_buffers %u: a power of two from 1 to 32768", nbufs);
    if (room == 0 || room > 1u << 20)
        return mcrx__fail(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                          "ring_buffer_bytes %zu: from 1 to 1048576", room);
    /* Is io_uring allowed at all (kernel.io_uring_disabled, seccomp)? */
    r = io_uring_queue_init(2, &probe, 0);
    if (r < 0)
        return uring_fail(err, MCRX_ERROR_NOT_SUPPORTED, -r, "io_uring_setup");
    io_uring_queue_exit(&probe);
    ub = calloc(1, sizeof *ub);
    if (ub == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "io_uring backend");
    ub->be.name = "io_uring";
    ub->be.caps = MCRX__CAP_BATCH | MCRX__CAP_CALLER_SOCKET | MCRX__CAP_VIEWS |
                  MCRX__CAP_RXINFO | MCRX__CAP_IP_SOCKET | MCRX__CAP_DRAINS_SOCKET;
    ub->be.open = uring_open;
    ub->be.adopt = uring_adopt;
    ub->be.apply = uring_apply;
    ub->be.recv = NULL;
    ub->be.recv_views = uring_recv_views;
    ub->be.wait_handle = uring_wait_handle;
    ub->be.close = uring_close;
    ub->nbufs = nbufs;
    ub->room = room;
    ub->refs = 1;
    *out = &ub->be;
    return 0;
}

void mcrx__plat_uring_backend_free(const mcrx__backend *be) {
    backend_unref((uring_backend *)(uintptr_t)be);
}

#else /* !MCRX_HAVE_LIBURING */

mcrx_error mcrx__plat_uring_backend(unsigned nbufs, size_t room, const mcrx__backend **out,
                                    mcrx__err *err) {
    (void)nbufs;
    (void)room;
    *out = NULL;
    return mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0,
                      "io_uring: this build has no io_uring backend (built without liburing)");
}

void mcrx__plat_uring_backend_free(const mcrx__backend *be) {
    (void)be;
}

#endif
