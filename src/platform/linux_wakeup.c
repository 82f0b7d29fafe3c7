/* Wake-ups (eventfd) and the wait on one handle (poll). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../internal.h"

mcrx_error mcrx__wakeup_open(mcrx_sock *w, mcrx__err *err) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        char text[128];
        int os = errno;
        return mcrx__fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, os, "eventfd: %s (errno %d)%s",
                          mcrx__os_error_text(os, text, sizeof text), os,
                          os == EMFILE ? ": open file limit reached; raise it with ulimit -n" : "");
    }
    *w = fd;
    return 0;
}

void mcrx__wakeup_signal(mcrx_sock w) {
    uint64_t one = 1;
    ssize_t r = write((int)w, &one, sizeof one);
    (void)r; /* a full counter already wakes the reader */
}

void mcrx__wakeup_drain(mcrx_sock w) {
    uint64_t v;
    ssize_t r = read((int)w, &v, sizeof v);
    (void)r;
}

void mcrx__wakeup_close(mcrx_sock w) {
    if (w >= 0)
        close((int)w);
}

mcrx_error mcrx__wait_handle(mcrx_sock h, int timeout_ms, int *ready, mcrx__err *err) {
    struct pollfd p;
    int r;
    p.fd = (int)h;
    p.events = POLLIN;
    p.revents = 0;
    *ready = 0;
    r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR)
        return 0; /* a signal ends the wait with nothing ready */
    if (r < 0) {
        char text[128];
        int os = errno;
        return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, os, "wait: %s (errno %d)",
                          mcrx__os_error_text(os, text, sizeof text), os);
    }
    if (r > 0 && (p.revents & POLLNVAL)) { /* closed underneath: say so, not "ready" forever */
        char text[128];
        return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, EBADF,
                          "wait: %s (errno %d): the socket was closed outside the library",
                          mcrx__os_error_text(EBADF, text, sizeof text), EBADF);
    }
    *ready = r > 0;
    return 0;
}
