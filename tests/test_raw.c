/*
 * Raw capture (include/mcrx/raw.h) on a real kernel: whole IP datagrams,
 * exactly once, nothing foreign; IPv4 and IPv6, ASM and SSM, across the
 * veth link and on lo; fragments, a protocol other than UDP, the shared
 * capture (duplicates, overlaps, leave of one duplicate, limits), kernel
 * drops, and the error without CAP_NET_RAW.
 *
 * `test_raw lo` runs only what a network namespace with nothing but lo
 * allows (tests/raw-userns-test.sh runs it in a user namespace of its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include <mcrx/raw.h>

#define SLOT MCRX_RAW_MAX_DATAGRAM
static unsigned char bufs[8][SLOT];

static uint32_t vb;
static char vbs[16]; /* vb's index as text: an IPv6 interface */

/* ---- helpers ----------------------------------------------------------------- */

static void raw_cfg(mcrx_raw_config *cfg, const char *group, const char *source,
                    const char *iface) {
    mcrx_raw_config_init(cfg);
    assert_int_equal(mcrx_raw_config_parse(cfg, group, source, iface), MCRX_ERROR_NONE);
}

static uint64_t add_join(mcrx_raw_context *r, const char *group, const char *source,
                         const char *iface) {
    mcrx_raw_config cfg;
    uint64_t id = 0;
    raw_cfg(&cfg, group, source, iface);
    if (mcrx_raw_context_add(r, &cfg, &id) != 0)
        fail_msg("add %s: %s", group, mcrx_raw_context_last_error(r));
    if (mcrx_raw_context_join_subscription(r, id) != 0)
        fail_msg("join %s: %s", group, mcrx_raw_context_last_error(r));
    return id;
}

/* Every packet that arrives within ms of quiet, into pkts (up to max). */
static size_t collect(mcrx_raw_context *r, mcrx_raw_packet *pkts, size_t max, int ms) {
    size_t n = 0;
    long long end = th_now_ms() + ms;
    while (th_now_ms() < end) {
        size_t got = 0;
        int ready = 0;
        if (n < max) {
            mcrx_raw_packet_init(&pkts[n], bufs[n % 8], SLOT);
            assert_int_equal(mcrx_raw_context_recv(r, &pkts[n], &got), 0);
            if (got == 1) {
                n++;
                end = th_now_ms() + ms;
                continue;
            }
        } else {
            mcrx_raw_packet extra;
            static unsigned char spare[SLOT];
            mcrx_raw_packet_init(&extra, spare, sizeof spare);
            assert_int_equal(mcrx_raw_context_recv(r, &extra, &got), 0);
            if (got == 1) {
                n++;
                continue;
            }
        }
        mcrx_raw_context_wait(r, 20, &ready);
    }
    return n;
}

static size_t count(mcrx_raw_context *r, int ms) {
    mcrx_raw_packet pkts[8];
    return collect(r, pkts, 0, ms) + 0 * sizeof pkts;
}

static int sender_ns_fd(void) {
    const char *s = getenv("MCRX_TEST_SENDER_NS");
    int fd = s != NULL ? open(s, O_RDONLY | O_CLOEXEC) : -1;
    assert_true(fd >= 0);
    return fd;
}

/* A raw IP socket of protocol proto on the sender host, out of "va". */
static int sender_rawip(int family, int proto) {
    int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), sns = sender_ns_fd(), fd;
    int one = 1;
    assert_int_equal(setns(sns, CLONE_NEWNET), 0);
    fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, proto);
    assert_true(fd >= 0);
    {
        /* the SSM source: bound, so the kernel picks no other address of va */
        struct sockaddr_storage ss;
        mcrx_ip src;
        size_t len;
        assert_int_equal(mcrx_ip_parse(family == AF_INET ? S_V4 : S_V6, &src), 0);
        len = mcrx_ip_to_sockaddr(&src, 0, &ss, sizeof ss);
        assert_int_equal(bind(fd, (struct sockaddr *)&ss, (socklen_t)len), 0);
    }
    if (family == AF_INET) {
        struct ip_mreqn m;
        memset(&m, 0, sizeof m);
        m.imr_ifindex = (int)if_nametoindex("va");
        assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m), 0);
    } else {
        unsigned idx = if_nametoindex("va");
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx), 0);
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &one, sizeof one), 0);
    }
    assert_int_equal(setns(own, CLONE_NEWNET), 0);
    close(own);
    close(sns);
    return fd;
}

static void send_rawip(int fd, const char *group, const void *data, size_t len) {
    struct sockaddr_storage ss;
    mcrx_ip g;
    size_t slen;
    assert_int_equal(mcrx_ip_parse(group, &g), 0);
    slen = mcrx_ip_to_sockaddr(&g, 0, &ss, sizeof ss);
    assert_true(sendto(fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)slen) == (ssize_t)len);
}

static void check_ip(const mcrx_raw_packet *p, const char *src, const char *group, int proto) {
    char s[MCRX_IP_STRLEN], g[MCRX_IP_STRLEN];
    mcrx_ip_format(&p->source, s, sizeof s);
    mcrx_ip_format(&p->group, g, sizeof g);
    assert_string_equal(s, src);
    assert_string_equal(g, group);
    assert_int_equal(p->ip_protocol, proto);
    assert_int_equal(p->len, p->wire_len);
}

/* ---- one capture per subscription --------------------------------------------------- */

/* Three datagrams to the group, cross traffic to another group (that a
 * foreign socket here joined) and from another source: the subscription
 * gets its three, each once, as whole IP datagrams. */
static void deliver(const char *group, const char *src, const char *other_group,
                    const char *iface, int ssm) {
    mcrx_raw_context *r = mcrx_raw_context_new();
    mcrx_raw_packet pkts[16];
    uint16_t port = th_port();
    int tx = th_sender(src, "va");
    int tx_other = th_sender(strchr(src, ':') ? S_V6_OTHER : S_V4_OTHER, "va");
    int foreign = th_foreign_socket(strchr(src, ':') ? "::" : "0.0.0.0", port);
    size_t n, i, hdr = strchr(src, ':') ? 40 : 20;
    th_foreign_join(foreign, other_group, vb);
    add_join(r, group, ssm ? src : NULL, iface);
    for (i = 0; i < 3; i++) {
        th_send_str(tx, group, port, "raw-hello");
        th_send_str(tx, other_group, port, "foreign-group");
        th_send_str(tx_other, group, port, "foreign-source");
    }
    n = collect(r, pkts, 16, 300);
    if (!ssm) {
        /* ASM: the other source's datagrams are the group's too. */
        assert_int_equal(n, 6);
    } else {
        assert_int_equal(n, 3);
    }
    for (i = 0; i < n; i++) {
        const unsigned char *b = pkts[i].buf;
        char s[MCRX_IP_STRLEN];
        mcrx_ip_format(&pkts[i].source, s, sizeof s);
        if (ssm)
            check_ip(&pkts[i], src, group, 17);
        assert_int_equal(pkts[i].ip_protocol, 17);
        assert_int_equal(pkts[i].ingress_interface_index, vb);
        assert_true(pkts[i].valid & MCRX_META_INGRESS_IF);
        assert_int_equal(b[0] >> 4, hdr == 20 ? 4 : 6);
        if (strcmp(s, src) == 0) {
            assert_int_equal(pkts[i].len, hdr + 8 + strlen("raw-hello"));
            assert_memory_equal(b + hdr + 8, "raw-hello", 9);
        }
    }
    close(tx);
    close(tx_other);
    close(foreign);
    mcrx_raw_context_free(r);
}

static void v4_asm_veth_exactly_once_nothing_foreign(void **state) {
    (void)state;
    deliver("239.77.1.1", S_V4, "239.77.1.2", R_V4, 0);
}

static void v4_ssm_veth_exactly_once_nothing_foreign(void **state) {
    (void)state;
    deliver("232.77.1.1", S_V4, "232.77.1.2", NULL, 1);
}

static void v6_asm_veth_exactly_once_nothing_foreign(void **state) {
    (void)state;
    deliver("ff0e::7701", S_V6, "ff0e::7702", vbs, 0);
}

static void v6_ssm_veth_exactly_once_nothing_foreign(void **state) {
    char iface[16];
    (void)state;
    snprintf(iface, sizeof iface, "%u", vb);
    deliver("ff3e::8000:7701", S_V6, "ff3e::8000:7702", iface, 1);
}

/* A datagram this host sends on lo is captured twice by a packet socket
 * (outgoing and received): the subscription still sees it once. */
static void lo_local_send_exactly_once(void **state) {
    mcrx_raw_context *r = mcrx_raw_context_new();
    struct sockaddr_in a;
    struct in_addr lo;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), i;
    (void)state;
    add_join(r, "239.77.2.1", NULL, "127.0.0.1");
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    lo = a.sin_addr;
    assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
    for (i = 0; i < 5; i++)
        th_send_str(fd, "239.77.2.1", 4000, "lo");
    th_send_str(fd, "239.77.2.2", 4000, "other group");
    assert_int_equal(count(r, 200), 5);
    close(fd);
    mcrx_raw_context_free(r);
}

/* This host's own send out of the veth: captured once (the packet socket
 * sees it only as outgoing), as an IP socket would receive it. */
static void local_send_on_veth_exactly_once(void **state) {
    mcrx_raw_context *r = mcrx_raw_context_new();
    mcrx_raw_packet pkts[8];
    struct sockaddr_in a;
    struct ip_mreqn m;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), i;
    size_t n;
    (void)state;
    add_join(r, "239.77.3.1", NULL, R_V4);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, R_V4, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    memset(&m, 0, sizeof m);
    m.imr_ifindex = (int)vb;
    assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m), 0);
    for (i = 0; i < 4; i++)
        th_send_str(fd, "239.77.3.1", 4000, "mine");
    n = collect(r, pkts, 8, 200);
    assert_int_equal(n, 4);
    /* Sent from here: the UDP checksum is left for the device. */
    assert_true(pkts[0].flags & MCRX_RAW_CSUM_NOT_READY);
    close(fd);
    mcrx_raw_context_free(r);
}

/* A 3000-byte payload crosses the 1500-byte link in fragments: each is an
 * IP datagram of the group, delivered with its own header. */
static void fragments_are_datagrams(void **state) {
    static unsigned char payload[3000];
    mcrx_raw_context *r = mcrx_raw_context_new();
    mcrx_raw_packet pkts[8];
    int tx = th_sender(S_V4, "va"), tx6 = th_sender(S_V6, "va");
    size_t n, i, total = 0;
    (void)state;
    memset(payload, 'f', sizeof payload);
    add_join(r, "239.77.4.1", NULL, R_V4);
    th_send(tx, "239.77.4.1", th_port(), payload, sizeof payload);
    n = collect(r, pkts, 8, 200);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++) {
        const unsigned char *b = pkts[i].buf;
        total += pkts[i].len - 20;
        assert_int_equal(pkts[i].ip_protocol, 17);
        /* more-fragments on all but the last */
        assert_int_equal((b[6] & 0x20) != 0, i + 1 < n);
    }
    assert_int_equal(total, 8 + sizeof payload);
    mcrx_raw_context_free(r);

    r = mcrx_raw_context_new();
    add_join(r, "ff0e::7704", NULL, vbs);
    th_send(tx6, "ff0e::7704", th_port(), payload, sizeof payload);
    n = collect(r, pkts, 8, 200);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++)
        assert_int_equal(pkts[i].ip_protocol, 44); /* the fragment header */
    close(tx);
    close(tx6);
    mcrx_raw_context_free(r);
}

/* Protocol 253 (experimental, RFC 3692) to the group from a raw IP socket:
 * delivered with its protocol; UDP to another group is not. */
static void other_protocol_delivered_with_its_number(void **state) {
    mcrx_raw_context *r = mcrx_raw_context_new();
    mcrx_raw_packet pkts[4];
    int fd = sender_rawip(AF_INET, 253), fd6 = sender_rawip(AF_INET6, 253);
    size_t n;
    (void)state;
    add_join(r, "232.77.5.1", S_V4, R_V4);
    add_join(r, "ff3e::8000:7705", S_V6, vbs);
    send_rawip(fd, "232.77.5.1", "not-udp", 7);
    send_rawip(fd6, "ff3e::8000:7705", "not-udp6", 8);
    n = collect(r, pkts, 4, 200);
    assert_int_equal(n, 2);
    assert_int_equal(pkts[0].ip_protocol, 253);
    assert_int_equal(pkts[1].ip_protocol, 253);
    assert_int_equal(pkts[0].len + pkts[1].len, 20 + 7 + 40 + 8);
    close(fd);
    close(fd6);
    mcrx_raw_context_free(r);
}

/* Per subscription receive, states and errors as for UDP. */
static void lifecycle_and_per_subscription_receive(void **state) {
    mcrx_raw_context *r = mcrx_raw_context_new();
    mcrx_raw_config cfg;
    mcrx_raw_packet p;
    uint64_t a, b, dup;
    size_t got = 9;
    int tx = th_sender(S_V4, "va");
    (void)state;
    raw_cfg(&cfg, "239.77.6.1", NULL, R_V4);
    assert_int_equal(mcrx_raw_context_add(r, &cfg, &a), 0);
    assert_int_equal(mcrx_raw_context_subscription_state(r, a), MCRX_STATE_BOUND);
    assert_int_not_equal(mcrx_raw_context_add(r, &cfg, &dup), 0);
    assert_int_equal(mcrx_raw_context_last_error_code(r), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    mcrx_raw_packet_init(&p, bufs[0], SLOT);
    assert_int_not_equal(mcrx_raw_context_recv_subscription(r, a, &p, 1, &got), 0);
    assert_int_equal(mcrx_raw_context_last_error_code(r), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    assert_int_equal(mcrx_raw_context_leave_subscription(r, a), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_raw_context_last_error_code(r), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    assert_int_equal(mcrx_raw_context_join_subscription(r, a), 0);
    assert_int_equal(mcrx_raw_context_join_subscription(r, a), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_raw_context_last_error_code(r), MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED);
    b = add_join(r, "239.77.6.2", NULL, R_V4);
    assert_int_equal(b, a + 1);
    th_send_str(tx, "239.77.6.2", 4000, "for b");
    th_send_str(tx, "239.77.6.1", 4000, "for a");
    th_settle();
    assert_int_equal(mcrx_raw_context_recv_subscription(r, a, &p, 1, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(p.subscription_id, a);
    assert_int_equal(mcrx_raw_context_recv_subscription(r, b, &p, 1, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(p.subscription_id, b);
    /* A slot too small for an IP header is refused, not truncated silently. */
    mcrx_raw_packet_init(&p, bufs[0], 16);
    assert_int_equal(mcrx_raw_context_recv(r, &p, &got), MCRX_STATUS_INVALID_ARGUMENT);
    /* Truncation is reported. */
    th_send_str(tx, "239.77.6.1", 4000, "a datagram longer than the slot .............");
    th_settle();
    mcrx_raw_packet_init(&p, bufs[0], 64);
    assert_int_equal(mcrx_raw_context_recv(r, &p, &got), 0);
    assert_int_equal(got, 1);
    assert_true(p.flags & MCRX_DATAGRAM_TRUNCATED);
    assert_int_equal(p.len, 64);
    assert_int_equal(p.wire_len, 20 + 8 + 45);
    assert_int_equal(mcrx_raw_context_leave_subscription(r, a), 0);
    assert_int_equal(mcrx_raw_context_remove_subscription(r, a), 0);
    assert_int_equal(mcrx_raw_context_remove_subscription(r, a), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_raw_context_last_error_code(r), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    assert_int_equal(mcrx_raw_context_subscription_count(r), 1);
    /* Validation: the UDP rules less the port. */
    raw_cfg(&cfg, "232.1.1.1", NULL, NULL);
    assert_int_equal(mcrx_raw_config_validate(&cfg), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    raw_cfg(&cfg, "239.1.1.1", NULL, NULL);
    assert_int_equal(mcrx_raw_config_validate(&cfg), MCRX_ERROR_NONE);
    close(tx);
    mcrx_raw_context_free(r);
}

/* Batch receive across subscriptions takes turns; the kernel's drops of an
 * overflowing capture are counted. */
static void batch_and_drops_counted(void **state) {
    mcrx_raw_context *r = mcrx_raw_context_new();
    mcrx_raw_config cfg;
    mcrx_raw_metrics m;
    mcrx_raw_packet pkts[8];
    uint64_t id;
    size_t got, i, total = 0;
    int tx = th_sender(S_V4, "va");
    char payload[1000];
    (void)state;
    memset(payload, 'd', sizeof payload);
    raw_cfg(&cfg, "239.77.7.1", NULL, R_V4);
    cfg.rcvbuf_bytes = 4096; /* overflows at once */
    assert_int_equal(mcrx_raw_context_add(r, &cfg, &id), 0);
    assert_int_equal(mcrx_raw_context_join_subscription(r, id), 0);
    for (i = 0; i < 200; i++)
        th_send(tx, "239.77.7.1", 4000, payload, sizeof payload);
    th_settle();
    for (i = 0; i < 8; i++)
        mcrx_raw_packet_init(&pkts[i], bufs[i], SLOT);
    do {
        assert_int_equal(mcrx_raw_context_recv_batch(r, pkts, 8, &got), 0);
        total += got;
    } while (got > 0);
    assert_int_equal(mcrx_raw_context_metrics_get(r, &m), 0);
    assert_true(total > 0);
    assert_true(m.kernel_drops > 0);
    assert_int_equal(m.kernel_drops + total, 200);
    assert_int_equal(m.packets_received, total);
    close(tx);
    mcrx_raw_context_free(r);
}

/* Without CAP_NET_RAW: the error names it. */
static void without_cap_net_raw_the_error_names_it(void **state) {
    pid_t pid = fork();
    int status = 0;
    (void)state;
    assert_true(pid >= 0);
    if (pid == 0) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        mcrx_raw_context *r;
        mcrx_raw_config cfg;
        uint64_t id;
        memset(d, 0, sizeof d);
        if (syscall(SYS_capget, &h, d) != 0)
            _exit(2);
        d[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
        d[CAP_NET_RAW / 32].permitted &= ~(1u << (CAP_NET_RAW % 32));
        if (syscall(SYS_capset, &h, d) != 0)
            _exit(3);
        r = mcrx_raw_context_new();
        mcrx_raw_config_init(&cfg);
        mcrx_raw_config_parse(&cfg, "239.77.8.1", NULL, NULL);
        if (mcrx_raw_context_add(r, &cfg, &id) == 0)
            _exit(4);
        if (mcrx_raw_context_last_error_code(r) != MCRX_ERROR_RAW_SOCKET_CREATE_FAILED ||
            strstr(mcrx_raw_context_last_error(r), "CAP_NET_RAW") == NULL) {
            fprintf(stderr, "%s\n", mcrx_raw_context_last_error(r));
            _exit(5);
        }
        fprintf(stderr, "without CAP_NET_RAW: %s\n", mcrx_raw_context_last_error(r));
        mcrx_raw_context_free(r);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- shared capture ------------------------------------------------------------------ */

static uint64_t sh_add_join(mcrx_raw_shared *sh, const char *group, const char *source) {
    mcrx_raw_config cfg;
    uint64_t id = 0;
    raw_cfg(&cfg, group, source, strchr(group, ':') ? vbs : R_V4);
    if (mcrx_raw_shared_add(sh, &cfg, &id) != 0 || mcrx_raw_shared_join_subscription(sh, id) != 0)
        fail_msg("shared %s: %s", group, mcrx_raw_shared_last_error(sh));
    return id;
}

/* One datagram from the shared capture (waiting up to TH_WAIT_MS), with its ids. */
static size_t sh_next(mcrx_raw_shared *sh, uint64_t *ids, size_t cap, char *src, size_t srclen) {
    long long end = th_now_ms() + TH_WAIT_MS;
    mcrx_raw_packet p;
    size_t got = 0;
    while (th_now_ms() < end) {
        int ready;
        mcrx_raw_packet_init(&p, bufs[0], SLOT);
        p.ids = ids;
        p.ids_cap = cap;
        assert_int_equal(mcrx_raw_shared_recv(sh, &p, &got), 0);
        if (got == 1) {
            if (src != NULL)
                mcrx_ip_format(&p.source, src, srclen);
            assert_int_equal(p.subscription_id, ids[0]);
            return p.nids;
        }
        mcrx_raw_shared_wait(sh, 20, &ready);
    }
    return 0;
}

static size_t sh_left(mcrx_raw_shared *sh) {
    mcrx_raw_packet p;
    size_t got = 0, n = 0;
    th_settle();
    do {
        mcrx_raw_packet_init(&p, bufs[0], SLOT);
        assert_int_equal(mcrx_raw_shared_recv(sh, &p, &got), 0);
        n += got;
    } while (got > 0);
    return n;
}

static void shared_duplicates_overlaps_and_leave(void **state) {
    mcrx_raw_shared *sh = mcrx_raw_shared_new(NULL);
    mcrx_raw_shared_metrics m;
    uint64_t ids[8], a1, a2, s1, s2, s1b, v6;
    char src[MCRX_IP_STRLEN];
    int tx = th_sender(S_V4, "va"), tx2 = th_sender(S_V4_OTHER, "va");
    int tx6 = th_sender(S_V6, "va");
    (void)state;
    assert_non_null(sh);
    a1 = sh_add_join(sh, "239.77.9.1", NULL);
    a2 = sh_add_join(sh, "239.77.9.1", NULL); /* a duplicate */
    s1 = sh_add_join(sh, "232.77.9.2", S_V4);
    s2 = sh_add_join(sh, "232.77.9.2", S_V4_OTHER); /* same group, other source */
    s1b = sh_add_join(sh, "232.77.9.2", S_V4);      /* a duplicate */
    v6 = sh_add_join(sh, "ff0e::7709", NULL);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.capture_sockets, 2);    /* IPv4 and IPv6 on vb */
    assert_int_equal(m.active_memberships, 4); /* 239 any, 232 from S, 232 from S', ff0e */

    th_send_str(tx, "239.77.9.1", 4000, "asm");
    assert_int_equal(sh_next(sh, ids, 8, src, sizeof src), 2);
    assert_int_equal(ids[0], a1);
    assert_int_equal(ids[1], a2);
    th_send_str(tx, "232.77.9.2", 4000, "ssm S");
    assert_int_equal(sh_next(sh, ids, 8, src, sizeof src), 2);
    assert_int_equal(ids[0], s1);
    assert_int_equal(ids[1], s1b);
    assert_string_equal(src, S_V4);
    th_send_str(tx2, "232.77.9.2", 4000, "ssm S'");
    assert_int_equal(sh_next(sh, ids, 8, src, sizeof src), 1);
    assert_int_equal(ids[0], s2);
    th_send_str(tx6, "ff0e::7709", 4000, "v6");
    assert_int_equal(sh_next(sh, ids, 8, src, sizeof src), 1);
    assert_int_equal(ids[0], v6);
    th_send_str(tx, "239.77.9.99", 4000, "not ours");
    assert_int_equal(sh_left(sh), 0);

    /* Leaving one duplicate disturbs no other. */
    assert_int_equal(mcrx_raw_shared_leave_subscription(sh, a1), 0);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.active_memberships, 4);
    th_send_str(tx, "239.77.9.1", 4000, "asm again");
    assert_int_equal(sh_next(sh, ids, 8, src, sizeof src), 1);
    assert_int_equal(ids[0], a2);
    assert_int_equal(mcrx_raw_shared_remove_subscription(sh, s1), 0); /* auto-leave */
    th_send_str(tx, "232.77.9.2", 4000, "ssm S again");
    assert_int_equal(sh_next(sh, ids, 8, src, sizeof src), 1);
    assert_int_equal(ids[0], s1b);
    assert_int_equal(mcrx_raw_shared_leave_subscription(sh, a2), 0);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.active_memberships, 3);
    th_send_str(tx, "239.77.9.1", 4000, "nobody");
    assert_int_equal(sh_left(sh), 0);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.demultiplex_matches, 2 + 2 + 1 + 1 + 1 + 1);
    assert_true(m.unmatched_packets >= 1);
    assert_int_equal(m.pending_packets, 0);
    close(tx);
    close(tx2);
    close(tx6);
    mcrx_raw_shared_free(sh);
}

static void shared_limits(void **state) {
    mcrx_raw_shared_limits l;
    mcrx_raw_shared *sh;
    mcrx_raw_config cfg;
    uint64_t id;
    (void)state;
    mcrx_raw_shared_limits_init(&l);
    l.max_subscriptions = 0;
    assert_null(mcrx_raw_shared_new(&l));
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_SHARED_RAW_CAPTURE_LIMITS);
    l.max_subscriptions = 2;
    sh = mcrx_raw_shared_new(&l);
    assert_non_null(sh);
    raw_cfg(&cfg, "239.77.10.1", NULL, R_V4);
    assert_int_equal(mcrx_raw_shared_add(sh, &cfg, &id), 0);
    assert_int_equal(mcrx_raw_shared_add(sh, &cfg, &id), 0);
    assert_int_equal(mcrx_raw_shared_add(sh, &cfg, &id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_raw_shared_last_error_code(sh),
                     MCRX_ERROR_SHARED_RAW_CAPTURE_SUBSCRIPTION_LIMIT_EXCEEDED);
    assert_int_equal(mcrx_raw_shared_join_subscription(sh, 99), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_raw_shared_last_error_code(sh), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    mcrx_raw_shared_free(sh);
}


/* mcrx_raw_shared_recv reads a batch with one system call into the pending
 * queue (at most max_pending_packets wait there); a leave re-points queued
 * datagrams others match and drops those only it matched. */
static void shared_pending_queue_bound_and_repointing(void **state) {
    mcrx_raw_shared_limits l;
    mcrx_raw_shared_metrics m;
    mcrx_raw_shared *sh;
    mcrx_raw_packet p;
    uint64_t ids[8], a1, a2, a3, b;
    size_t got, n = 0;
    int tx = th_sender(S_V4, "va"), i;
    (void)state;
    mcrx_raw_shared_limits_init(&l);
    l.max_pending_packets = 3;
    sh = mcrx_raw_shared_new(&l);
    assert_non_null(sh);
    a1 = sh_add_join(sh, "239.77.11.1", NULL);
    a2 = sh_add_join(sh, "239.77.11.1", NULL);
    a3 = sh_add_join(sh, "239.77.11.1", NULL);
    b = sh_add_join(sh, "239.77.11.2", NULL);

    /* The bound: 10 queued in the kernel, never more than 3 in the library. */
    for (i = 0; i < 10; i++)
        th_send_str(tx, "239.77.11.1", 4000, "bound");
    th_settle();
    do {
        mcrx_raw_packet_init(&p, bufs[0], SLOT);
        assert_int_equal(mcrx_raw_shared_recv(sh, &p, &got), 0);
        n += got;
        assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
        assert_true(m.pending_packets <= 3);
        if (n == 1)
            assert_int_equal(m.pending_packets, 3); /* one read of 4, one handed out */
    } while (got > 0);
    assert_int_equal(n, 10);
    assert_int_equal(m.pending_packets, 0);

    /* Re-pointing: queued datagrams follow a leave and a remove. */
    for (i = 0; i < 4; i++)
        th_send_str(tx, "239.77.11.1", 4000, "repoint");
    th_settle();
    assert_int_equal(sh_next(sh, ids, 8, NULL, 0), 3);
    assert_int_equal(ids[0], a1);
    assert_int_equal(mcrx_raw_shared_leave_subscription(sh, a1), 0);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.pending_packets, 3); /* still matched by a2 and a3 */
    assert_int_equal(sh_next(sh, ids, 8, NULL, 0), 2);
    assert_int_equal(ids[0], a2);
    assert_int_equal(ids[1], a3);
    assert_int_equal(mcrx_raw_shared_remove_subscription(sh, a2), 0);
    assert_int_equal(sh_next(sh, ids, 8, NULL, 0), 1);
    assert_int_equal(ids[0], a3);
    assert_int_equal(sh_next(sh, ids, 8, NULL, 0), 1);
    assert_int_equal(ids[0], a3);

    /* Dropping: queued datagrams only b matched go with b's leave. */
    th_send_str(tx, "239.77.11.1", 4000, "first");
    for (i = 0; i < 3; i++)
        th_send_str(tx, "239.77.11.2", 4000, "only b");
    th_settle();
    assert_int_equal(sh_next(sh, ids, 8, NULL, 0), 1);
    assert_int_equal(ids[0], a3);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.pending_packets, 3);
    assert_int_equal(mcrx_raw_shared_leave_subscription(sh, b), 0);
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(m.pending_packets, 0);
    assert_int_equal(sh_left(sh), 0);

    /* A smaller slot than the queue's: cut and flagged, length kept. */
    th_send_str(tx, "239.77.11.1", 4000, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    th_send_str(tx, "239.77.11.1", 4000, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    th_settle();
    mcrx_raw_packet_init(&p, bufs[0], SLOT);
    assert_int_equal(mcrx_raw_shared_recv(sh, &p, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(p.flags & MCRX_DATAGRAM_TRUNCATED, 0);
    mcrx_raw_packet_init(&p, bufs[1], MCRX_RAW_MIN_SLOT);
    assert_int_equal(mcrx_raw_shared_recv(sh, &p, &got), 0);
    assert_int_equal(got, 1);
    assert_true(p.flags & MCRX_DATAGRAM_TRUNCATED);
    assert_int_equal(p.len, MCRX_RAW_MIN_SLOT);
    assert_int_equal(p.wire_len, 20 + 8 + 58);
    assert_memory_equal(bufs[1] + 28, "0123456789abcdef0123456789abcdef0123",
                        MCRX_RAW_MIN_SLOT - 28); /* the payload's start */
    close(tx);
    mcrx_raw_shared_free(sh);
}

int main(int argc, char **argv) {
    const struct CMUnitTest lo_only[] = {
        cmocka_unit_test(lo_local_send_exactly_once),
    };
    const struct CMUnitTest all[] = {
        cmocka_unit_test(v4_asm_veth_exactly_once_nothing_foreign),
        cmocka_unit_test(v4_ssm_veth_exactly_once_nothing_foreign),
        cmocka_unit_test(v6_asm_veth_exactly_once_nothing_foreign),
        cmocka_unit_test(v6_ssm_veth_exactly_once_nothing_foreign),
        cmocka_unit_test(lo_local_send_exactly_once),
        cmocka_unit_test(local_send_on_veth_exactly_once),
        cmocka_unit_test(fragments_are_datagrams),
        cmocka_unit_test(other_protocol_delivered_with_its_number),
        cmocka_unit_test(lifecycle_and_per_subscription_receive),
        cmocka_unit_test(batch_and_drops_counted),
        cmocka_unit_test(without_cap_net_raw_the_error_names_it),
        cmocka_unit_test(shared_duplicates_overlaps_and_leave),
        cmocka_unit_test(shared_limits),
        cmocka_unit_test(shared_pending_queue_bound_and_repointing),
    };
    if (argc > 1 && strcmp(argv[1], "lo") == 0)
        return cmocka_run_group_tests_name("raw_lo", lo_only, NULL, NULL);
    th_init();
    vb = th_rx_ifindex("vb");
    snprintf(vbs, sizeof vbs, "%u", vb);
    return cmocka_run_group_tests_name("raw", all, NULL, NULL);
}
