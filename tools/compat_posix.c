/* The tools' OS layer on POSIX (compat.h): signals, ppoll, getifaddrs,
 * clock_nanosleep, /proc. */
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

int mcrx_tool_net_busy(void) {
    return errno == ENOBUFS || errno == EAGAIN || errno == EWOULDBLOCK;
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

int64_t mcrx_tool_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mcrx_tool_sleep_until(double t) {
    struct timespec ts;
    if (t <= mcrx_tool_mono())
        return;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    /* A stop signal interrupts it (EINTR); the caller looks at its flag. */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void mcrx_tool_pause(double seconds) {
    struct timespec ts;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void mcrx_tool_ifname(unsigned index, char *buf, size_t len) {
    char name[IF_NAMESIZE + 1];
    if (len == 0)
        return;
    buf[0] = '\0';
    if (if_indextoname(index, name) != NULL)
        snprintf(buf, len, "%s", name);
}

/* Linux keeps twice the request for its bookkeeping, so less than that
 * means a clamp (net.core.rmem_max). */
void mcrx_tool_rcvbuf_report(FILE *f, const char *name, unsigned long asked, size_t have) {
    fprintf(f, "rcvbuf: asked %lu bytes, the kernel has %zu (Linux counts twice the request)\n",
            asked, have);
    if (have < 2 * (size_t)asked) {
        FILE *mx = fopen("/proc/sys/net/core/rmem_max", "r");
        unsigned long rmem = 0;
        if (mx != NULL) {
            if (fscanf(mx, "%lu", &rmem) != 1)
                rmem = 0;
            fclose(mx);
        }
        fprintf(stderr,
                "%s: --rcvbuf %lu was clamped by the kernel to %zu bytes (net.core.rmem_max = %lu); "
                "raise it: sysctl -w net.core.rmem_max=%lu\n",
                name, asked, have, rmem, asked);
    } else if (have > 2 * (size_t)asked + 4096) {
        fprintf(f, "rcvbuf: the kernel raised it to its minimum\n");
    }
    fflush(f);
}
