/*
 * The isolation promise in every combination it covers: IPv4 and IPv6, ASM
 * and SSM, with and without an interface, several subscriptions on one
 * group:port (other interfaces, other sources, other groups), several
 * receiver processes, and other programs' sockets on the port with and
 * without SO_REUSEPORT. Each subscription must get each of its datagrams
 * exactly once and nothing else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "harness.h"
#include "isolation.h"

#define PER_STREAM 300
#define BURST 8
#define ALL_FOREIGN (ISO_FOREIGN_REUSEADDR | ISO_FOREIGN_REUSEPORT | ISO_FOREIGN_REUSEPORT_GROUP)

static char if1[16], if2[16]; /* receiver interface indexes as text */

static void check_one(const iso_case *c) {
    iso_report r;
    int rc = iso_run(c, th_port(), PER_STREAM, BURST, &r);
    uint64_t fails = iso_failures(&r);
    if (rc != 0 || fails != 0)
        iso_print(stderr, c, &r);
    assert_int_equal(rc, 0);
    assert_int_equal(fails, 0);
}

/*
 * Each case twice. Sparse: only our sockets on the port, few enough (10 or
 * fewer) that Linux's early demux looks the socket up itself; that path is
 * where SO_REUSEPORT swapped a subscription's socket for another member of
 * its reuse-port group. Crowded: other programs' sockets too (with and
 * without SO_REUSEPORT), and more than 10 sockets, so the kernel takes its
 * multicast delivery loop instead.
 */
static void check(const iso_case *c) {
    iso_case sparse = *c, crowded = *c;
    sparse.foreign = 0;
    crowded.foreign = ALL_FOREIGN;
    check_one(&sparse);
    check_one(&crowded);
}

/* Families differ only in their addresses. */
typedef struct fam {
    const char *s1, *s1b, *s2, *r1, *r2; /* senders on link 1 (two), link 2; receivers */
    const char *asm_g, *asm_g2, *ssm_g, *ssm_g2, *link_g;
} fam;

static const fam V4 = {S_V4, S_V4_OTHER, S_V4_L2, R_V4, R_V4_L2,
                       "239.10.0.3", "239.10.0.4", "232.10.0.3", "232.10.0.4", NULL};
static const fam V6 = {S_V6, S_V6_OTHER, S_V6_L2, R_V6, R_V6_L2,
                       "ff0e::10:3", "ff0e::10:4", "ff3e::10:3", "ff3e::10:4", "ff02::10:3"};

/* Cross traffic every case carries besides its own streams. */
static void add_cross(iso_case *c, const fam *f) {
    iso_stream x[] = {
        {f->s1, 1, f->r1, 0},      /* unicast to the port */
        {f->s2, 2, f->r2, 0},
        {f->s1, 1, f->asm_g, 1},   /* the group on another port */
        {f->s1, 1, f->ssm_g, 1},
    };
    memcpy(&c->streams[c->nstreams], x, sizeof x);
    c->nstreams += (int)(sizeof x / sizeof x[0]);
}

/* One ASM group on one port: on link 1, on link 2, and with no interface
 * (the kernel's choice, link 1 by the default route); another group on the
 * same port; every source on both links sending. */
static iso_case asm_case(const fam *f, const char *name) {
    iso_case c = {.name = name, .processes = 1, .rx_options = -1, };
    iso_stream st[] = {
        {f->s1, 1, f->asm_g, 0}, {f->s1b, 1, f->asm_g, 0}, {f->s2, 2, f->asm_g, 0},
        {f->s1, 1, f->asm_g2, 0}, {f->s2, 2, f->asm_g2, 0},
    };
    iso_sub sb[] = {
        {f->asm_g, NULL, f->r1, 1},
        {f->asm_g, NULL, f->r2, 2},
        {f->asm_g, NULL, NULL, 1},
        {f->asm_g2, NULL, f->r2, 2},
    };
    memcpy(c.streams, st, sizeof st);
    c.nstreams = (int)(sizeof st / sizeof st[0]);
    memcpy(c.subs, sb, sizeof sb);
    c.nsubs = (int)(sizeof sb / sizeof sb[0]);
    add_cross(&c, f);
    return c;
}

/* One SSM group on one port with three sources (two on link 1, one on link
 * 2), each source with and without an interface; a source whose link is not
 * the join's must get nothing; an ASM group shares the port. */
static iso_case ssm_case(const fam *f, const char *name) {
    iso_case c = {.name = name, .processes = 1, .rx_options = -1, };
    iso_stream st[] = {
        {f->s1, 1, f->ssm_g, 0}, {f->s1b, 1, f->ssm_g, 0}, {f->s2, 2, f->ssm_g, 0},
        {f->s1, 1, f->ssm_g2, 0}, {f->s1, 1, f->asm_g, 0},
    };
    iso_sub sb[] = {
        {f->ssm_g, f->s1, f->r1, 1},
        {f->ssm_g, f->s1, NULL, 1},
        {f->ssm_g, f->s1b, NULL, 1},
        {f->ssm_g, f->s2, f->r2, 2},
        {f->ssm_g, f->s2, NULL, 1}, /* joined on link 1: its source is on link 2 */
        {f->ssm_g2, f->s1b, f->r1, 1}, /* nobody sends from s1b to ssm_g2 */
        {f->asm_g, NULL, f->r1, 1},
    };
    memcpy(c.streams, st, sizeof st);
    c.nstreams = (int)(sizeof st / sizeof st[0]);
    memcpy(c.subs, sb, sizeof sb);
    c.nsubs = (int)(sizeof sb / sizeof sb[0]);
    add_cross(&c, f);
    return c;
}

static void ipv4_asm_shared_port_interfaces(void **state) {
    iso_case c = asm_case(&V4, "ipv4-asm");
    (void)state;
    check(&c);
}

static void ipv6_asm_shared_port_interfaces(void **state) {
    iso_case c = asm_case(&V6, "ipv6-asm");
    (void)state;
    check(&c);
}

static void ipv4_ssm_shared_port_sources(void **state) {
    iso_case c = ssm_case(&V4, "ipv4-ssm");
    (void)state;
    check(&c);
}

static void ipv6_ssm_shared_port_sources(void **state) {
    iso_case c = ssm_case(&V6, "ipv6-ssm");
    (void)state;
    check(&c);
}

/* Without pktinfo the kernel's filtering alone must hold. */
static void ipv4_without_pktinfo(void **state) {
    iso_case a = asm_case(&V4, "ipv4-asm-nopktinfo"), s = ssm_case(&V4, "ipv4-ssm-nopktinfo");
    (void)state;
    a.rx_options = s.rx_options = 0;
    check(&a);
    check(&s);
}

static void ipv6_without_pktinfo(void **state) {
    iso_case a = asm_case(&V6, "ipv6-asm-nopktinfo"), s = ssm_case(&V6, "ipv6-ssm-nopktinfo");
    (void)state;
    a.rx_options = s.rx_options = 0;
    check(&a);
    check(&s);
}

/* Several receiver processes with the same subscriptions: each gets all. */
static void processes_share_every_port(void **state) {
    iso_case a4 = asm_case(&V4, "ipv4-asm-2proc"), s4 = ssm_case(&V4, "ipv4-ssm-3proc");
    iso_case a6 = asm_case(&V6, "ipv6-asm-2proc"), s6 = ssm_case(&V6, "ipv6-ssm-3proc");
    (void)state;
    a4.processes = a6.processes = 2; /* 8 sockets: the early-demux path */
    s4.processes = s6.processes = 3;
    check(&a4);
    check(&s4);
    check(&a6);
    check(&s6);
}

/* IPv6 link-scope groups: bound with the interface as scope when known,
 * else wildcard and filtered in user space. */
static void ipv6_link_scope_group_per_interface(void **state) {
    iso_case c = {.name = "ipv6-link-scope", .processes = 2, .rx_options = -1};
    iso_stream st[] = {
        {S_V6, 1, V6.link_g, 0}, {S_V6_L2, 2, V6.link_g, 0}, {S_V6, 1, V6.asm_g, 0},
    };
    iso_sub sb[] = {
        {V6.link_g, NULL, if1, 1},
        {V6.link_g, NULL, if2, 2},
        {V6.asm_g, NULL, if2, 2}, /* nothing comes on link 2 for it */
    };
    (void)state;
    memcpy(c.streams, st, sizeof st);
    c.nstreams = (int)(sizeof st / sizeof st[0]);
    memcpy(c.subs, sb, sizeof sb);
    c.nsubs = (int)(sizeof sb / sizeof sb[0]);
    check(&c);
}

/* A program that bound the port with SO_REUSEPORT alone keeps it: the add
 * fails and says why, instead of joining a reuse-port group that would
 * split the datagrams. */
static void reuseport_only_holder_is_named(void **state) {
    const char *addr[] = {"0.0.0.0", "::"};
    const char *group[] = {"239.10.0.9", "ff0e::10:9"};
    int i;
    (void)state;
    for (i = 0; i < 2; i++) {
        uint16_t port = th_port();
        struct sockaddr_storage ss;
        socklen_t len;
        int one = 1, fd;
        mcrx_context *ctx = mcrx_context_new();
        uint64_t id;
        memset(&ss, 0, sizeof ss);
        if (i == 0) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            in->sin_port = htons(port);
            inet_pton(AF_INET, addr[i], &in->sin_addr);
            len = sizeof *in;
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(port);
            len = sizeof *in6;
        }
        fd = socket(ss.ss_family, SOCK_DGRAM, 0);
        assert_true(fd >= 0);
        if (i == 1)
            assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
        assert_int_equal(mcrx_context_add_subscription(ctx, group[i], port, NULL, NULL, &id),
                         MCRX_STATUS_ERROR);
        assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_SOCKET_BIND_FAILED);
        assert_int_equal(mcrx_context_last_os_error(ctx), EADDRINUSE);
        assert_non_null(strstr(mcrx_context_last_error(ctx), "SO_REUSEPORT"));
        close(fd);
        /* Once it is gone the port is ours to share. */
        assert_int_equal(mcrx_context_add_subscription(ctx, group[i], port, NULL, NULL, &id),
                         MCRX_STATUS_OK);
        mcrx_context_free(ctx);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_asm_shared_port_interfaces),
        cmocka_unit_test(ipv6_asm_shared_port_interfaces),
        cmocka_unit_test(ipv4_ssm_shared_port_sources),
        cmocka_unit_test(ipv6_ssm_shared_port_sources),
        cmocka_unit_test(ipv4_without_pktinfo),
        cmocka_unit_test(ipv6_without_pktinfo),
        cmocka_unit_test(processes_share_every_port),
        cmocka_unit_test(ipv6_link_scope_group_per_interface),
        cmocka_unit_test(reuseport_only_holder_is_named),
    };
    th_init();
    snprintf(if1, sizeof if1, "%u", th_rx_ifindex("vb"));
    snprintf(if2, sizeof if2, "%u", th_rx_ifindex("vb2"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
