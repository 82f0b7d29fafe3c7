/*
 * The socket-list poller: poll(2) over the members, or WSAPoll on Windows,
 * for platforms without one pollable handle per set. There is no handle for
 * mcrx_context_fd; event loops watch the sockets that mcrx_context_sockets
 * lists. Each wait costs one pass over the members.
 *
 * A wait polls the members it saw when it began. So that a member added or
 * removed meanwhile (a subscription joined while the background receiver
 * sleeps with no timeout) reaches it, add and del signal a wake-up that is
 * itself a member; the wait drains it and polls again, with the new members,
 * for the time left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include "sysnet.h"
typedef WSAPOLLFD pollfd_t;
#define poll_fds(f, n, t) WSAPoll((f), (ULONG)(n), (t))
#define poll_error() WSAGetLastError()
#define POLL_INTERRUPTED(e) 0
#define POLL_READ POLLRDNORM
/* WSAPoll refuses an empty set: a wait on nothing only sleeps. */
#define sleep_ms(t) Sleep((t) < 0 ? INFINITE : (DWORD)(t))
#else
#include <poll.h>
#include <unistd.h>
typedef struct pollfd pollfd_t;
#define poll_fds(f, n, t) poll((f), (nfds_t)(n), (t))
#define poll_error() errno
#define POLL_INTERRUPTED(e) ((e) == EINTR)
#define POLL_READ POLLIN
#define sleep_ms(t) ((void)poll(NULL, 0, (t)))
#endif

#include "../internal.h"

typedef struct list_poller {
    mcrx__poller base;
    mcrx__mutex lock; /* add/del may race with a wait on another thread */
    mcrx__watch **members;
    size_t n, cap;
    mcrx__watch changed; /* a member: signalled by add and del */
} list_poller;

/* Waits poll at most this many members from the stack; more take one
 * allocation per wait (not per datagram). */
#define STACK_MEMBERS 64

static mcrx_error lp_add(mcrx__poller *p, mcrx__watch *w, mcrx__err *err) {
    list_poller *l = (list_poller *)p;
    mcrx_error rc = 0;
    mcrx__mutex_lock(&l->lock);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        mcrx__watch **m = realloc(l->members, cap * sizeof *m);
        if (m == NULL) {
            rc = mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "socket list");
        } else {
            l->members = m;
            l->cap = cap;
        }
    }
    if (rc == 0)
        l->members[l->n++] = w;
    mcrx__mutex_unlock(&l->lock);
    if (rc == 0 && w != &l->changed)
        mcrx__wakeup_signal(l->changed.handle);
    return rc;
}

static void lp_del(mcrx__poller *p, mcrx__watch *w) {
    list_poller *l = (list_poller *)p;
    size_t i;
    mcrx__mutex_lock(&l->lock);
    for (i = 0; i < l->n; i++) {
        if (l->members[i] == w) {
            memmove(&l->members[i], &l->members[i + 1], (l->n - i - 1) * sizeof l->members[0]);
            l->n--;
            break;
        }
    }
    mcrx__mutex_unlock(&l->lock);
    /* A wait must not go on polling a socket that is about to close. */
    mcrx__wakeup_signal(l->changed.handle);
}

static mcrx_error wait_once(list_poller *l, mcrx__watch *extra, mcrx__watch **ready, int max,
                            int timeout_ms, int *n, mcrx__err *err) {
    pollfd_t stack_fds[STACK_MEMBERS + 1];
    mcrx__watch *stack_who[STACK_MEMBERS + 1];
    pollfd_t *fds = stack_fds;
    mcrx__watch **who = stack_who;
    size_t count, i;
    int r;
    *n = 0;
    /* A snapshot of the members: the wait runs without the lock. */
    mcrx__mutex_lock(&l->lock);
    count = l->n + (extra != NULL);
    if (count > STACK_MEMBERS + 1) {
        fds = malloc(count * sizeof *fds);
        who = malloc(count * sizeof *who);
        if (fds == NULL || who == NULL) {
            mcrx__mutex_unlock(&l->lock);
            free(fds);
            free(who);
            return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "poll set");
        }
    }
    /* The handles are read under the lock too: once it is released a
     * member may be removed and freed (a subscription left by another
     * thread); after that only the pointers are compared, never followed. */
    for (i = 0; i < l->n; i++)
        who[i] = l->members[i];
    if (extra != NULL)
        who[count - 1] = extra;
    for (i = 0; i < count; i++) {
        memset(&fds[i], 0, sizeof fds[i]);
        fds[i].fd = who[i]->handle;
        fds[i].events = POLL_READ;
    }
    mcrx__mutex_unlock(&l->lock);
    if (count == 0) {
        sleep_ms(timeout_ms);
        return 0;
    }
    r = poll_fds(fds, count, timeout_ms);
    if (r < 0 && !POLL_INTERRUPTED(poll_error())) {
        char text[128];
        int os = poll_error();
        if (fds != stack_fds) {
            free(fds);
            free(who);
        }
        return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, os, "poll: %s (error %d)",
                          mcrx__os_error_text(os, text, sizeof text), os);
    }
    /* POLLERR/POLLNVAL count as ready: the receive call reports the error. */
    for (i = 0; r > 0 && i < count && *n < max; i++)
        if (fds[i].revents != 0)
            ready[(*n)++] = who[i];
    if (fds != stack_fds) {
        free(fds);
        free(who);
    }
    return 0;
}

/* Largest readiness report handed up at once (the core asks for 64). */
#define READY_MAX 64

static mcrx_error lp_wait(mcrx__poller *p, mcrx__watch *extra, mcrx__watch **ready, int max,
                          int timeout_ms, int *n, mcrx__err *err) {
    list_poller *l = (list_poller *)p;
    mcrx__watch *got[READY_MAX + 1];
    int64_t end = mcrx__mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    int left = timeout_ms;
    if (max > READY_MAX)
        max = READY_MAX; /* level-triggered: the rest is reported next time */
    for (;;) {
        int k = 0, i, changed = 0;
        mcrx_error rc = wait_once(l, extra, got, max + 1, left, &k, err);
        *n = 0;
        if (rc != 0)
            return rc;
        for (i = 0; i < k; i++) {
            if (got[i] == &l->changed)
                changed = 1;
            else if (*n < max)
                ready[(*n)++] = got[i];
        }
        if (!changed || *n > 0 || timeout_ms == 0)
            return 0;
        /* Only a blocking wait drains the change: a look (timeout 0, the
         * receive path's refill) must not take it from a waiter that is
         * about to block on an old list. Two blocking waits at once (the
         * background receiver and an mcrx_context_wait) can still take it
         * from each other; the background receiver's own wake-up is the
         * extra watch, which a stop signals. */
        mcrx__wakeup_drain(l->changed.handle);
        if (timeout_ms > 0) {
            int64_t now = mcrx__mono_ns();
            if (now >= end)
                return 0;
            left = (int)((end - now + 999999) / 1000000);
        }
    }
}

static mcrx_sock lp_fd(const mcrx__poller *p) {
    (void)p;
    return MCRX_SOCK_INVALID;
}

static void lp_close(mcrx__poller *p) {
    list_poller *l = (list_poller *)p;
    mcrx__wakeup_close(l->changed.handle);
    mcrx__mutex_destroy(&l->lock);
    free(l->members);
    free(l);
}

static const mcrx__poller_ops list_ops = {"list", lp_add, lp_del, lp_wait, lp_fd, lp_close};

mcrx_error mcrx__poller_list_open(mcrx__poller **out, mcrx__err *err) {
    list_poller *l = calloc(1, sizeof *l);
    if (l == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "poller");
    mcrx__mutex_init(&l->lock);
    l->base.ops = &list_ops;
    l->changed.kind = MCRX__WATCH_WAKEUP;
    l->changed.handle = MCRX_SOCK_INVALID;
    if (mcrx__wakeup_open(&l->changed.handle, err) != 0 || lp_add(&l->base, &l->changed, err) != 0) {
        mcrx_error rc = err->code;
        lp_close(&l->base);
        return rc;
    }
    *out = &l->base;
    return 0;
}
