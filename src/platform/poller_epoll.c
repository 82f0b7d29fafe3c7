/*
 * The epoll poller: one level-triggered epoll set per context, which is the
 * handle mcrx_context_fd gives to event loops. Each member carries its
 * mcrx__watch, so a wait says what became ready.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../internal.h"

typedef struct epoll_poller {
    mcrx__poller base;
    int fd;
} epoll_poller;

static mcrx_error ep_fail(mcrx__err *err, mcrx_error kind, int os, const char *what) {
    char text[128];
    return mcrx__fail(err, kind, os, "%s: %s (errno %d)", what,
                      mcrx__os_error_text(os, text, sizeof text), os);
}

static mcrx_error ep_add(mcrx__poller *p, mcrx__watch *w, mcrx__err *err) {
    epoll_poller *e = (epoll_poller *)p;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = w;
    if (epoll_ctl(e->fd, EPOLL_CTL_ADD, (int)w->handle, &ev) != 0)
        return ep_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "epoll_ctl");
    return 0;
}

static void ep_del(mcrx__poller *p, mcrx__watch *w) {
    epoll_poller *e = (epoll_poller *)p;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    (void)epoll_ctl(e->fd, EPOLL_CTL_DEL, (int)w->handle, &ev); /* already gone if closed */
}

/* Blocks until the set or extra is readable (poll on both), then looks. */
static mcrx_error ep_block(epoll_poller *e, const mcrx__watch *extra, int timeout_ms,
                           int *extra_ready, mcrx__err *err) {
    struct pollfd p[2];
    int r;
    p[0].fd = e->fd;
    p[0].events = POLLIN;
    p[1].fd = (int)extra->handle;
    p[1].events = POLLIN;
    p[0].revents = p[1].revents = 0;
    r = poll(p, 2, timeout_ms);
    if (r < 0 && errno != EINTR)
        return ep_fail(err, MCRX_ERROR_RECEIVE_FAILED, errno, "poll");
    *extra_ready = r > 0 && p[1].revents != 0;
    return 0;
}

static mcrx_error ep_wait(mcrx__poller *p, mcrx__watch *extra, mcrx__watch **ready, int max,
                          int timeout_ms, int *n, mcrx__err *err) {
    epoll_poller *e = (epoll_poller *)p;
    struct epoll_event evs[64];
    int i, r, extra_ready = 0;
    *n = 0;
    if (max > 64)
        max = 64;
    if (extra != NULL) {
        if (ep_block(e, extra, timeout_ms, &extra_ready, err) != 0)
            return err->code;
        if (extra_ready)
            ready[(*n)++] = extra;
        timeout_ms = 0;
        max -= *n;
    }
    if (max <= 0)
        return 0;
    {
        int64_t deadline = timeout_ms > 0 ? mcrx__mono_ns() + (int64_t)timeout_ms * 1000000 : 0;
        for (;;) {
            r = epoll_wait(e->fd, evs, max, timeout_ms);
            if (r >= 0 || errno != EINTR || (timeout_ms != 0 && !p->restart_interrupted))
                break;
            if (timeout_ms > 0) {
                int64_t left = deadline - mcrx__mono_ns();
                if (left <= 0) {
                    r = 0;
                    break;
                }
                timeout_ms = (int)((left + 999999) / 1000000);
            }
        }
    }
    if (r < 0) {
        if (errno == EINTR)
            return 0; /* a signal: nothing ready */
        return ep_fail(err, MCRX_ERROR_RECEIVE_FAILED, errno, "epoll_wait");
    }
    for (i = 0; i < r; i++)
        ready[(*n)++] = evs[i].data.ptr;
    return 0;
}

static mcrx_sock ep_fd(const mcrx__poller *p) {
    return ((const epoll_poller *)p)->fd;
}

static void ep_close(mcrx__poller *p) {
    epoll_poller *e = (epoll_poller *)p;
    close(e->fd);
    free(e);
}

static const mcrx__poller_ops epoll_ops = {"epoll", ep_add, ep_del, ep_wait, ep_fd, ep_close};

mcrx_error mcrx__poller_open(mcrx__poller **out, mcrx__err *err) {
    epoll_poller *e = calloc(1, sizeof *e);
    if (e == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "poller");
    e->fd = epoll_create1(EPOLL_CLOEXEC);
    if (e->fd < 0) {
        int os = errno;
        free(e);
        return ep_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, os,
                       os == EMFILE ? "epoll_create1 (open file limit: raise ulimit -n)"
                                    : "epoll_create1");
    }
    e->base.ops = &epoll_ops;
    *out = &e->base;
    return 0;
}
