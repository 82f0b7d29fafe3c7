/* The in-memory receive backend of fake_backend.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_backend.h"

typedef struct entry {
    int failure;              /* 1: a receive failure, not a datagram */
    fake_dgram d;             /* d.payload points at the entry's own copy */
    mcrx_error kind;
    int os;
    char detail[200];
} entry;

typedef struct fake_state {
    int peer;                 /* the socketpair's other end: writes the readiness byte */
    int readable;             /* the byte is in the socket */
    entry *q;
    size_t head, len, cap;
    fake_apply *log;
    size_t nlog, caplog;
    mcrx_error apply_kind;    /* the next apply's failure, NONE for success */
    int apply_os;
    char apply_detail[200];
    size_t recv_calls, max_n;
    /* The views backend: payloads lent until the next receive call. */
    void *lent[MCRX__RX_CHUNK];
    size_t nlent;
} fake_state;

static fake_open settings = {1, 0, 1};

void fake_open_defaults(void) {
    settings.isolated = 1;
    settings.ifindex = 0;
    settings.cmsgs = 1;
}

void fake_open_set(const fake_open *o) {
    settings = *o;
}

static void *need(void *p) {
    if (p == NULL) {
        fprintf(stderr, "fake_backend: out of memory\n");
        abort();
    }
    return p;
}

static fake_state *state_of(const mcrx_subscription *sub) {
    if (sub == NULL || (sub->ep.be != &fake_backend && sub->ep.be != &fake_views_backend) ||
        sub->ep.state == NULL) {
        fprintf(stderr, "fake_backend: not a fake subscription\n");
        abort();
    }
    return sub->ep.state;
}

/* Readiness follows the queue: one byte in the socket while it is not
 * empty. (One byte per datagram would stall once the socketpair's send
 * buffer is full, a few hundred datagrams; the flood tests queue more.) */
static void sync_readiness(fake_state *st, mcrx_sock sock) {
    char b = 'x';
    if (st->len > 0 && !st->readable) {
        if (write(st->peer, &b, 1) != 1)
            abort();
        st->readable = 1;
    } else if (st->len == 0 && st->readable) {
        if (read((int)sock, &b, 1) != 1)
            abort();
        st->readable = 0;
    }
}

static entry *append(fake_state *st) {
    entry *e;
    if (st->head + st->len == st->cap) {
        if (st->head > 0) {
            memmove(st->q, st->q + st->head, st->len * sizeof *st->q);
            st->head = 0;
        } else {
            st->cap = st->cap ? st->cap * 2 : 16;
            st->q = need(realloc(st->q, st->cap * sizeof *st->q));
        }
    }
    e = &st->q[st->head + st->len++];
    memset(e, 0, sizeof *e);
    return e;
}

static void drop_head(fake_state *st) {
    free((void *)(uintptr_t)st->q[st->head].d.payload);
    st->head++;
    st->len--;
    if (st->len == 0)
        st->head = 0;
}

void fake_push(mcrx_subscription *sub, const fake_dgram *d) {
    fake_state *st = state_of(sub);
    entry *e = append(st);
    unsigned char *p = need(malloc(d->wire_len > 0 ? d->wire_len : 1));
    size_t i;
    if (d->payload != NULL)
        memcpy(p, d->payload, d->wire_len);
    else
        for (i = 0; i < d->wire_len; i++)
            p[i] = (unsigned char)i;
    e->d = *d;
    e->d.payload = p;
    sync_readiness(st, sub->ep.sock);
}

void fake_push_failure(mcrx_subscription *sub, mcrx_error kind, int os, const char *detail) {
    fake_state *st = state_of(sub);
    entry *e = append(st);
    e->failure = 1;
    e->kind = kind;
    e->os = os;
    snprintf(e->detail, sizeof e->detail, "%s", detail);
    sync_readiness(st, sub->ep.sock);
}

size_t fake_queued(const mcrx_subscription *sub) {
    return state_of(sub)->len;
}

void fake_fail_next_apply(mcrx_subscription *sub, mcrx_error kind, int os, const char *detail) {
    fake_state *st = state_of(sub);
    st->apply_kind = kind;
    st->apply_os = os;
    snprintf(st->apply_detail, sizeof st->apply_detail, "%s", detail);
}

const fake_apply *fake_applies(const mcrx_subscription *sub, size_t *n) {
    const fake_state *st = state_of(sub);
    *n = st->nlog;
    return st->log;
}

size_t fake_recv_calls(const mcrx_subscription *sub, size_t *max_n) {
    const fake_state *st = state_of(sub);
    if (max_n != NULL)
        *max_n = st->max_n;
    return st->recv_calls;
}

/* ---- the backend ---------------------------------------------------------- */

static mcrx_error fake_open_ep(const mcrx_subscription_config *cfg, mcrx__endpoint *ep,
                               mcrx__err *err) {
    fake_state *st = calloc(1, sizeof *st);
    int sv[2];
    if (st == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "fake endpoint");
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        int os = errno;
        free(st);
        return mcrx__fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, os, "socketpair (errno %d)", os);
    }
    st->peer = sv[1];
    ep->sock = sv[0];
    ep->local_ip = cfg->group;
    ep->local_port = cfg->dst_port;
    ep->ifindex = settings.ifindex;
    ep->ifaddr = cfg->interface;
    ep->isolated = settings.isolated;
    ep->cmsgs = settings.cmsgs;
    ep->owned = 1;
    ep->state = st;
    return 0;
}

static void copy_filter(fake_filter *to, const mcrx__filter *f) {
    size_t i;
    memset(to, 0, sizeof *to);
    to->group = f->group;
    to->mode = f->mode;
    to->nsources = f->nsources;
    for (i = 0; i < f->nsources && i < FAKE_MAX_SOURCES; i++)
        to->sources[i] = f->sources[i];
}

static mcrx_error fake_apply_fn(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                                const mcrx__filter *to, mcrx__err *err) {
    fake_state *st = ep->state;
    fake_apply *a;
    mcrx_error rc = st->apply_kind;
    if (st->nlog == st->caplog) {
        st->caplog = st->caplog ? st->caplog * 2 : 8;
        st->log = need(realloc(st->log, st->caplog * sizeof *st->log));
    }
    a = &st->log[st->nlog++];
    copy_filter(&a->from, from);
    copy_filter(&a->to, to);
    a->ifindex = ifindex;
    a->rc = rc;
    if (rc == MCRX_ERROR_NONE)
        return 0;
    st->apply_kind = MCRX_ERROR_NONE; /* once */
    return mcrx__fail(err, rc, st->apply_os, "%s", st->apply_detail);
}

/* As the UDP backend: len = min(wire, cap), wire_len the real size,
 * TRUNCATED when it did not fit. A failure ends the call; met after
 * datagrams, it waits for the next call (as recvmmsg reports it). */
static mcrx_error fake_recv(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                            size_t *got, mcrx__err *err) {
    fake_state *st = ep->state;
    size_t i = 0;
    *got = 0;
    st->recv_calls++;
    if (n > st->max_n)
        st->max_n = n;
    if (n > MCRX__RX_CHUNK)
        n = MCRX__RX_CHUNK;
    while (i < n && st->len > 0) {
        entry *e = &st->q[st->head];
        mcrx_datagram *dg = &dgs[i];
        if (e->failure) {
            mcrx_error kind = e->kind;
            if (i > 0)
                break;
            mcrx__fail(err, kind, e->os, "%s", e->detail);
            drop_head(st);
            sync_readiness(st, ep->sock);
            return kind;
        }
        dg->wire_len = e->d.wire_len;
        dg->len = e->d.wire_len < dg->cap ? e->d.wire_len : dg->cap;
        if (dg->len > 0)
            memcpy(dg->buf, e->d.payload, dg->len);
        dg->flags = e->d.wire_len > dg->cap ? MCRX_DATAGRAM_TRUNCATED : 0;
        dg->source = e->d.source;
        dg->source_port = e->d.source_port;
        if (ep->cmsgs)
            info[i] = e->d.info;
        else
            memset(&info[i], 0, sizeof info[i]);
        drop_head(st);
        i++;
    }
    *got = i;
    sync_readiness(st, ep->sock);
    return 0;
}

static mcrx_sock fake_wait_handle(const mcrx__endpoint *ep) {
    return ep->sock;
}

static void take_back_lent(fake_state *st) {
    size_t i;
    for (i = 0; i < st->nlent; i++) {
        /* Scribbled over first: a view used after its time reads garbage. */
        memset(st->lent[i], 0xdd, 1);
        free(st->lent[i]);
    }
    st->nlent = 0;
}

/* Lends views of the queued datagrams, valid until the next call: the
 * memory a ring would own. */
static mcrx_error fake_recv_views(mcrx__endpoint *ep, mcrx__rxview *views, size_t n, size_t *got,
                                  mcrx__err *err) {
    fake_state *st = ep->state;
    size_t i = 0;
    *got = 0;
    take_back_lent(st);
    st->recv_calls++;
    if (n > st->max_n)
        st->max_n = n;
    if (n > MCRX__RX_CHUNK)
        n = MCRX__RX_CHUNK;
    while (i < n && st->len > 0) {
        entry *e = &st->q[st->head];
        if (e->failure) {
            mcrx_error kind = e->kind;
            if (i > 0)
                break;
            mcrx__fail(err, kind, e->os, "%s", e->detail);
            drop_head(st);
            sync_readiness(st, ep->sock);
            return kind;
        }
        memset(&views[i], 0, sizeof views[i]);
        views[i].data = e->d.payload;
        views[i].len = e->d.wire_len;
        views[i].wire_len = e->d.wire_len;
        views[i].source = e->d.source;
        views[i].source_port = e->d.source_port;
        if (ep->cmsgs)
            views[i].info = e->d.info;
        /* The payload is now the lender's until the next call. */
        st->lent[st->nlent++] = (void *)(uintptr_t)e->d.payload;
        e->d.payload = NULL;
        drop_head(st);
        i++;
    }
    *got = i;
    sync_readiness(st, ep->sock);
    return 0;
}

static void fake_close(mcrx__endpoint *ep, int keep_sock) {
    fake_state *st = ep->state;
    if (st != NULL) {
        take_back_lent(st);
        while (st->len > 0)
            drop_head(st);
        free(st->q);
        free(st->log);
        close(st->peer);
        free(st);
    }
    if (!keep_sock && ep->sock != MCRX_SOCK_INVALID)
        close((int)ep->sock);
    ep->sock = MCRX_SOCK_INVALID;
    ep->state = NULL;
}

const mcrx__backend fake_backend = {
    "fake",
    MCRX__CAP_BATCH | MCRX__CAP_RXINFO,
    fake_open_ep,
    NULL, /* no caller sockets */
    fake_apply_fn,
    fake_recv,
    NULL, /* no views */
    fake_wait_handle,
    fake_close,
};

/* The same script, lent as views into the backend's memory (MCRX__CAP_VIEWS):
 * the core copies them into the caller's slots. */
const mcrx__backend fake_views_backend = {
    "fake-views",
    MCRX__CAP_BATCH | MCRX__CAP_RXINFO | MCRX__CAP_VIEWS,
    fake_open_ep,
    NULL,
    fake_apply_fn,
    NULL, /* the core copies from the views */
    fake_recv_views,
    fake_wait_handle,
    fake_close,
};
