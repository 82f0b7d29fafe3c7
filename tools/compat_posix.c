/* The tools' OS layer on POSIX (compat.h): signals, ppoll, getifaddrs. */
#define _GNU_SOURCE
#include "compat.h"
#include "tool_common.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int mcrx_tool_net_init(const char *name) {
    (void)name;
    return 0;
}

const char *mcrx_tool_net_error(void) {
    return strerror(errno);
}

void mcrx_tool_sock_close(mcrx_sock s) {
    close((int)s);
}

unsigned mcrx_tool_v6_index_of(const mcrx_ip *ip) {
    struct ifaddrs *list, *it;
    unsigned idx = 0;
    if (getifaddrs(&list) != 0)
        return 0;
    for (it = list; it != NULL && idx == 0; it = it->ifa_next) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)it->ifa_addr;
        if (in6 != NULL && in6->sin6_family == AF_INET6 &&
            memcmp(&in6->sin6_addr, ip->bytes, 16) == 0)
            idx = if_nametoindex(it->ifa_name);
    }
    freeifaddrs(list);
    return idx;
}

/* The mask ppoll waits with: the stop signals let through. */
static sigset_t wait_mask;

void mcrx_tool_on_stop(void (*handler)(int), int hold) {
    struct sigaction sa;
    sigset_t block;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigprocmask(SIG_SETMASK, NULL, &wait_mask);
    if (!hold)
        return;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
}

int mcrx_tool_wait(mcrx_context *ctx, double seconds, char *why, size_t len) {
    struct pollfd p = {.fd = (int)mcrx_context_fd(ctx), .events = POLLIN};
    struct timespec ts, *tsp = NULL;
    if (seconds >= 0) {
        ts.tv_sec = (time_t)seconds;
        ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
        tsp = &ts;
    }
    if (ppoll(&p, 1, tsp, &wait_mask) < 0 && errno != EINTR) {
        snprintf(why, len, "poll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void mcrx_tool_sleep(double seconds) {
    struct timespec ts;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

double mcrx_tool_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
