#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int own_ns = -1;
static int sender_ns = -1;

static void die(const char *what) {
    fprintf(stderr, "harness: %s: %s\n", what, strerror(errno));
    exit(1);
}

void th_init(void) {
    const char *s = getenv("MCRX_TEST_SENDER_NS");
    if (s == NULL) {
        fprintf(stderr, "harness: run me through scripts/netns-run.sh\n");
        exit(1);
    }
    sender_ns = open(s, O_RDONLY | O_CLOEXEC);
    own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (sender_ns < 0 || own_ns < 0)
        die("open namespace");
    /* The suites run again with MCRX_BACKEND=io_uring (tests/CMakeLists.txt):
     * a silent fallback to the UDP backend would make that run prove
     * nothing, so it is a failure here. */
    s = getenv("MCRX_BACKEND");
    if (s != NULL && *s != '\0') {
        mcrx_context *ctx = mcrx_context_new();
        const char *got = ctx != NULL ? mcrx_context_backend(ctx) : "(no context)";
        if (strcmp(got, s) != 0) {
            fprintf(stderr, "harness: MCRX_BACKEND=%s but the context uses %s\n", s, got);
            exit(1);
        }
        fprintf(stderr, "harness: contexts use the %s backend\n", got);
        mcrx_context_free(ctx);
    }
}

static void enter(int ns) {
    if (setns(ns, CLONE_NEWNET) != 0)
        die("setns");
}

uint32_t th_rx_ifindex(const char *name) {
    uint32_t i = if_nametoindex(name);
    if (i == 0)
        die(name);
    return i;
}

static int family_of(const char *addr) {
    return strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
}

static int make_sender(const char *src, const char *ifname) {
    int fam = family_of(src), fd, one = 1, ttl = 1;
    struct sockaddr_storage ss;
    socklen_t len;
    enter(sender_ns);
    fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("sender socket");
    memset(&ss, 0, sizeof ss);
    if (fam == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        inet_pton(AF_INET, src, &in->sin_addr);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, src, &in6->sin6_addr);
        if (ifname != NULL && IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr))
            in6->sin6_scope_id = if_nametoindex(ifname);
        len = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        die("sender bind");
    if (ifname != NULL) {
        unsigned idx = if_nametoindex(ifname);
        if (fam == AF_INET) {
            struct ip_mreqn m;
            memset(&m, 0, sizeof m);
            m.imr_ifindex = (int)idx;
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) != 0 ||
                setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
                die("sender v4 options");
        } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) != 0 ||
                   setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &one, sizeof one) != 0) {
            die("sender v6 options");
        }
    }
    enter(own_ns);
    return fd;
}

int th_sender(const char *src, const char *ifname) {
    return make_sender(src, ifname);
}

int th_sender_plain(const char *src) {
    return make_sender(src, NULL);
}

void th_send(int fd, const char *dst, uint16_t port, const void *payload, size_t len) {
    struct sockaddr_storage ss;
    socklen_t slen;
    char host[64];
    const char *pct = strchr(dst, '%');
    memset(&ss, 0, sizeof ss);
    snprintf(host, sizeof host, "%.*s", pct ? (int)(pct - dst) : (int)strlen(dst), dst);
    if (family_of(host) == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, host, &in->sin_addr);
        slen = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, host, &in6->sin6_addr);
        if (pct != NULL) {
            enter(sender_ns);
            in6->sin6_scope_id = if_nametoindex(pct + 1);
            enter(own_ns);
        }
        slen = sizeof *in6;
    }
    if (sendto(fd, payload, len, 0, (struct sockaddr *)&ss, slen) != (ssize_t)len)
        die("sendto");
}

void th_send_str(int fd, const char *dst, uint16_t port, const char *text) {
    th_send(fd, dst, port, text, strlen(text));
}

int th_readable(intptr_t fd, int ms) {
    struct pollfd p;
    p.fd = (int)fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, ms) > 0;
}

long long th_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives one datagram with recv(handle), waiting on fd up to ms. */
static int recv_wait(void *h, int (*recv)(void *, mcrx_datagram *, size_t *),
                     const char *(*last_error)(void *), intptr_t fd, mcrx_datagram *dg, int ms) {
    long long end = th_now_ms() + ms;
    for (;;) {
        size_t got = 0;
        long long left;
        if (recv(h, dg, &got) != MCRX_STATUS_OK) {
            fprintf(stderr, "harness: recv: %s\n", last_error(h));
            exit(1);
        }
        if (got == 1)
            return 1;
        left = end - th_now_ms();
        if (left <= 0)
            return 0;
        th_readable(fd, (int)left);
    }
}

static int ctx_recv(void *h, mcrx_datagram *dg, size_t *got) {
    return mcrx_context_recv(h, dg, got);
}
static const char *ctx_error(void *h) {
    return mcrx_context_last_error(h);
}
static int sub_recv(void *h, mcrx_datagram *dg, size_t *got) {
    return mcrx_subscription_recv(h, dg, got);
}
static const char *sub_error(void *h) {
    return mcrx_subscription_last_error(h);
}

int th_ctx_recv_wait(mcrx_context *ctx, mcrx_datagram *dg, int ms) {
    return recv_wait(ctx, ctx_recv, ctx_error, mcrx_context_fd(ctx), dg, ms);
}

int th_sub_recv_wait(mcrx_subscription *sub, mcrx_datagram *dg, int ms) {
    return recv_wait(sub, sub_recv, sub_error, mcrx_subscription_sock(sub), dg, ms);
}

void th_settle(void) {
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
}

uint16_t th_port(void) {
    static uint16_t next = 0;
    if (next == 0)
        next = (uint16_t)(20000 + (getpid() % 500) * 20);
    return next++;
}

uint64_t th_add_join(mcrx_context *ctx, const char *group, uint16_t port, const char *source,
                     const char *iface) {
    uint64_t id = 0;
    if (mcrx_context_add_subscription(ctx, group, port, source, iface, &id) != MCRX_STATUS_OK ||
        mcrx_context_join_subscription(ctx, id) != MCRX_STATUS_OK) {
        fprintf(stderr, "harness: add/join %s: %s\n", group, mcrx_context_last_error(ctx));
        exit(1);
    }
    return id;
}

#include <ifaddrs.h>

void th_sender_linklocal(const char *ifname, char *buf, size_t len) {
    struct ifaddrs *list, *it;
    int found = 0;
    enter(sender_ns);
    if (getifaddrs(&list) != 0)
        die("getifaddrs");
    for (it = list; it != NULL && !found; it = it->ifa_next) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)it->ifa_addr;
        if (in6 == NULL || in6->sin6_family != AF_INET6 || strcmp(it->ifa_name, ifname) != 0 ||
            !IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr))
            continue;
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
        found = 1;
    }
    freeifaddrs(list);
    enter(own_ns);
    if (!found) {
        fprintf(stderr, "harness: no link-local address on %s\n", ifname);
        exit(1);
    }
}

int th_foreign_socket(const char *addr, uint16_t port) {
    int fam = family_of(addr), one = 1;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    if (fd < 0)
        die("foreign socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&ss, 0, sizeof ss);
    if (fam == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, addr, &in->sin_addr);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &in6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        len = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        die("foreign bind");
    return fd;
}

void th_foreign_join(int fd, const char *group, uint32_t ifindex) {
    if (family_of(group) == AF_INET) {
        struct ip_mreqn m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET, group, &m.imr_multiaddr);
        m.imr_ifindex = (int)ifindex;
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
            die("foreign join v4");
    } else {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
        m.ipv6mr_interface = ifindex;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m) != 0)
            die("foreign join v6");
    }
}

#include <pthread.h>

struct th_seq_sender {
    pthread_t thread;
    int fd;
    const char *const *groups;
    int ngroups;
    uint16_t port;
    uint32_t first, count, burst;
};

static void *seq_main(void *arg) {
    th_seq_sender *s = arg;
    uint32_t i;
    for (i = 0; i < s->count; i++) {
        uint32_t seq = s->first + i;
        th_send(s->fd, s->groups[i % (uint32_t)s->ngroups], s->port, &seq, sizeof seq);
        if (s->burst != 0 && (i + 1) % s->burst == 0) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

th_seq_sender *th_seq_start(int fd, const char *const *groups, int ngroups, uint16_t port,
                            uint32_t first, uint32_t count, uint32_t burst) {
    th_seq_sender *s = calloc(1, sizeof *s);
    s->fd = fd;
    s->groups = groups;
    s->ngroups = ngroups;
    s->port = port;
    s->first = first;
    s->count = count;
    s->burst = burst;
    if (pthread_create(&s->thread, NULL, seq_main, s) != 0)
        die("pthread_create");
    return s;
}

void th_seq_join(th_seq_sender *s) {
    pthread_join(s->thread, NULL);
    free(s);
}
