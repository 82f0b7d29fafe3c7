/*
 * Source filters (RFC 3678) on the real kernel, IPv4 and IPv6: three senders
 * A, B, C on the sender host; INCLUDE and EXCLUDE lists at add time and
 * changed while joined (full state), several subscriptions (and a caller's
 * socket) sharing one group:port, each counted by source over thousands of
 * datagrams; the kernel's per-socket source limits (igmp_max_msf,
 * mld_max_msf) checked before the kernel is asked; and the kernel's mode
 * rules named when a caller's socket breaks them.
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
#include <sys/wait.h>

#include <cmocka.h>

#include <mcrx/metrics.h>

#include "harness.h"

#define BURSTS 100
#define PER 10 /* datagrams per sender per burst: 3000 a phase */

enum { A = 1, B = 2, C = 4 };

/* Families differ only in their addresses. C sends from the second link's
 * address, out of the first link, so all three arrive on vb. */
typedef struct fam {
    const char *src[3];
    const char *asm_g, *ssm_g;
    const char *sysctl, *knob;
} fam;

static const fam V4 = {{S_V4, S_V4_OTHER, S_V4_L2}, "239.77.0.1", "232.77.0.1",
                       "/proc/sys/net/ipv4/igmp_max_msf", "net.ipv4.igmp_max_msf"};
static const fam V6 = {{S_V6, S_V6_OTHER, S_V6_L2}, "ff0e::77:1", "ff3e::77:1",
                       "/proc/sys/net/ipv6/mld_max_msf", "net.ipv6.mld_max_msf"};

static mcrx_ip ip_of(const char *text) {
    mcrx_ip ip;
    assert_int_equal(mcrx_ip_parse(text, &ip), MCRX_ERROR_NONE);
    return ip;
}

/* The list of the senders in mask, in the order C, A, B (unsorted on
 * purpose: the library sorts). */
static size_t list_of(const fam *f, int mask, mcrx_ip *out) {
    size_t n = 0;
    if (mask & C)
        out[n++] = ip_of(f->src[2]);
    if (mask & A)
        out[n++] = ip_of(f->src[0]);
    if (mask & B)
        out[n++] = ip_of(f->src[1]);
    return n;
}

/* A config on vb for group:port with a source filter (mode NONE: ASM). */
static mcrx_subscription_config filter_config(const fam *f, const char *group, uint16_t port,
                                              uint32_t mode, int mask, mcrx_ip *room) {
    mcrx_subscription_config c;
    char ifname[16];
    int v6 = f == &V6;
    snprintf(ifname, sizeof ifname, "%u", (unsigned)th_rx_ifindex("vb"));
    assert_int_equal(
        mcrx_subscription_config_parse(&c, group, port, NULL, v6 ? ifname : R_V4),
        MCRX_ERROR_NONE);
    c.sources_mode = mode;
    c.nsources = (uint32_t)(mode == MCRX_SOURCES_NONE ? 0 : list_of(f, mask, room));
    c.sources = c.nsources ? room : NULL;
    return c;
}

static uint64_t add_join(mcrx_context *ctx, const mcrx_subscription_config *c) {
    uint64_t id = 0;
    if (mcrx_context_add(ctx, c, &id) != 0 || mcrx_context_join_subscription(ctx, id) != 0)
        fail_msg("add/join: %s", mcrx_context_last_error(ctx));
    return id;
}

static void set(mcrx_context *ctx, uint64_t id, const fam *f, uint32_t mode, int mask) {
    mcrx_ip room[3];
    size_t n = mode == MCRX_SOURCES_NONE ? 0 : list_of(f, mask, room);
    if (mcrx_context_set_sources(ctx, id, mode, room, n) != 0)
        fail_msg("set_sources: %s", mcrx_context_last_error(ctx));
}

/* What one subscription must get: the senders in mask, PER a burst. */
typedef struct tally {
    uint64_t id;
    int mask;
    unsigned from[3];
    unsigned wrong; /* a datagram whose payload names another sender */
} tally;

static int sender_of(const fam *f, const mcrx_ip *ip) {
    int i;
    for (i = 0; i < 3; i++) {
        mcrx_ip s = ip_of(f->src[i]);
        if (mcrx_ip_equal(&s, ip))
            return i;
    }
    return -1;
}

static unsigned expected(const tally *t, int nt) {
    unsigned n = 0;
    int i, k;
    for (i = 0; i < nt; i++)
        for (k = 0; k < 3; k++)
            if (t[i].mask & (1 << k))
                n += PER;
    return n;
}

/* Receives until want datagrams arrived (or 2 s of nothing), tallying them. */
static unsigned drain(mcrx_context *ctx, const fam *f, tally *t, int nt, unsigned want) {
    static char arena[64][64];
    mcrx_datagram dgs[64];
    unsigned got_total = 0;
    long long quiet_until = th_now_ms() + TH_WAIT_MS;
    while (got_total < want || want == 0) {
        size_t got = 0, i;
        int ready = 0, j;
        mcrx_datagrams_init(dgs, 64, arena, 64, NULL);
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 64, &got), 0);
        if (got == 0) {
            if (th_now_ms() > quiet_until)
                break;
            assert_int_equal(mcrx_context_wait(ctx, want == 0 ? 50 : 200, &ready), 0);
            if (want == 0 && !ready)
                break;
            continue;
        }
        quiet_until = th_now_ms() + TH_WAIT_MS;
        for (i = 0; i < got; i++) {
            int s = sender_of(f, &dgs[i].source);
            for (j = 0; j < nt; j++)
                if (t[j].id == dgs[i].subscription_id)
                    break;
            if (j == nt || s < 0)
                fail_msg("a datagram for no subscription of the test, or from no sender");
            t[j].from[s]++;
            if (dgs[i].len < 1 || ((const char *)dgs[i].buf)[0] != 'A' + s)
                t[j].wrong++;
        }
        got_total += (unsigned)got;
    }
    return got_total;
}

/* BURSTS bursts of PER datagrams from each sender to group:port; then each
 * subscription must have exactly PER * BURSTS from each sender of its mask
 * and none from the others. */
static void exchange(mcrx_context *ctx, const fam *f, const int *snd, const char *group,
                     uint16_t port, tally *t, int nt, const char *phase) {
    int b, k, i, j;
    unsigned want = expected(t, nt);
    for (j = 0; j < nt; j++)
        memset(t[j].from, 0, sizeof t[j].from), t[j].wrong = 0;
    for (b = 0; b < BURSTS; b++) {
        for (i = 0; i < PER; i++)
            for (k = 0; k < 3; k++) {
                char payload[16];
                snprintf(payload, sizeof payload, "%c%d", 'A' + k, b * PER + i);
                th_send_str(snd[k], group, port, payload);
            }
        drain(ctx, f, t, nt, want);
    }
    th_settle();
    drain(ctx, f, t, nt, 0); /* anything late, wrong or duplicated */
    for (j = 0; j < nt; j++) {
        for (k = 0; k < 3; k++) {
            unsigned should = (t[j].mask & (1 << k)) ? PER * BURSTS : 0;
            if (t[j].from[k] != should)
                fail_msg("%s %s: subscription %llu got %u from %s, expected %u", phase, group,
                         (unsigned long long)t[j].id, t[j].from[k], f->src[k], should);
        }
        assert_int_equal(t[j].wrong, 0);
    }
}

static void senders(const fam *f, int *snd) {
    int k;
    for (k = 0; k < 3; k++)
        snd[k] = th_sender(f->src[k], "va");
}

/*
 * Include and exclude at add time, changed while joined: INCLUDE{A} ->
 * INCLUDE{A,B} -> EXCLUDE{C} -> ASM -> INCLUDE{B}, while a second
 * subscription on the same group:port (EXCLUDE{A}) and a caller's socket
 * bound to the wildcard address (EXCLUDE{B}) keep getting only their own.
 */
static void filters_deliver_exactly_their_sources(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config c;
    mcrx_ip room[3];
    uint16_t port = th_port();
    int snd[3], sock, k;
    tally t[3];
    const mcrx_subscription_config *got;
    assert_non_null(ctx);
    senders(f, snd);
    memset(t, 0, sizeof t);

    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_INCLUDE, A, room);
    t[0].id = add_join(ctx, &c);
    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_EXCLUDE, A, room);
    t[1].id = add_join(ctx, &c);
    t[1].mask = B | C;
    sock = th_foreign_socket(f == &V6 ? "::" : "0.0.0.0", port);
    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_EXCLUDE, B, room);
    if (mcrx_context_add_with_socket(ctx, &c, sock, &t[2].id) != 0 ||
        mcrx_context_join_subscription(ctx, t[2].id) != 0)
        fail_msg("caller socket: %s", mcrx_context_last_error(ctx));
    t[2].mask = A | C;

    t[0].mask = A;
    exchange(ctx, f, snd, f->asm_g, port, t, 3, "INCLUDE{A}");
    set(ctx, t[0].id, f, MCRX_SOURCES_INCLUDE, A | B);
    t[0].mask = A | B;
    exchange(ctx, f, snd, f->asm_g, port, t, 3, "INCLUDE{A,B}");
    set(ctx, t[0].id, f, MCRX_SOURCES_EXCLUDE, C);
    got = mcrx_subscription_get_config(mcrx_context_get_subscription(ctx, t[0].id));
    assert_int_equal(got->sources_mode, MCRX_SOURCES_EXCLUDE);
    assert_int_equal(got->nsources, 1);
    t[0].mask = A | B;
    exchange(ctx, f, snd, f->asm_g, port, t, 3, "EXCLUDE{C}");
    set(ctx, t[0].id, f, MCRX_SOURCES_NONE, 0);
    t[0].mask = A | B | C;
    exchange(ctx, f, snd, f->asm_g, port, t, 3, "ASM");
    set(ctx, t[0].id, f, MCRX_SOURCES_INCLUDE, B);
    t[0].mask = B;
    exchange(ctx, f, snd, f->asm_g, port, t, 3, "INCLUDE{B}");
    got = mcrx_subscription_get_config(mcrx_context_get_subscription(ctx, t[0].id));
    assert_int_equal(got->sources_mode, MCRX_SOURCES_INCLUDE);
    assert_int_equal(got->nsources, 1);
    mcrx_context_free(ctx);
    for (k = 0; k < 3; k++)
        close(snd[k]);
}

/* An SSM-range group with INCLUDE{A,B} at add time (SSM with two sources). */
static void ssm_include_of_two(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config c;
    mcrx_ip room[3];
    uint16_t port = th_port();
    int snd[3], k;
    tally t[1];
    assert_non_null(ctx);
    senders(f, snd);
    memset(t, 0, sizeof t);
    c = filter_config(f, f->ssm_g, port, MCRX_SOURCES_INCLUDE, A | B, room);
    t[0].id = add_join(ctx, &c);
    t[0].mask = A | B;
    exchange(ctx, f, snd, f->ssm_g, port, t, 1, "SSM INCLUDE{A,B}");
    mcrx_context_free(ctx);
    for (k = 0; k < 3; k++)
        close(snd[k]);
}

/*
 * Two processes on one group:port with different filters: the parent's
 * INCLUDE{A} and a child's EXCLUDE{A}, each its own context and socket.
 * Each gets exactly its own sources. The child reports its tally through a
 * pipe (no cmocka in the child: a failed assertion there would run the
 * parent's test runner in the copy).
 */
static void two_processes_keep_their_own_filters(const fam *f) {
    uint16_t port = th_port();
    int ready[2], result[2], snd[3], k, status = 0;
    unsigned child_from[3] = {0, 0, 0};
    char c = 0;
    pid_t pid;
    tally t[1];
    mcrx_context *ctx;
    mcrx_subscription_config cfg;
    mcrx_ip room[3];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(result), 0);
    cfg = filter_config(f, f->asm_g, port, MCRX_SOURCES_EXCLUDE, A, room);
    cfg.rcvbuf_bytes = 8u << 20; /* the whole exchange, while the child waits for a core */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static char arena[64][64];
        mcrx_datagram dgs[64];
        unsigned from[4] = {0, 0, 0, 0}, total = 0;
        long long quiet_until;
        uint64_t id = 0;
        mcrx_context *cc = mcrx_context_new();
        if (cc == NULL || mcrx_context_add(cc, &cfg, &id) != 0 ||
            mcrx_context_join_subscription(cc, id) != 0)
            _exit(2);
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        quiet_until = th_now_ms() + 3 * TH_WAIT_MS;
        while (th_now_ms() < quiet_until && total < 2u * PER * BURSTS + 1u) {
            size_t got = 0, i;
            int r = 0;
            mcrx_datagrams_init(dgs, 64, arena, 64, NULL);
            if (mcrx_context_recv_batch(cc, dgs, 64, &got) != 0)
                _exit(4);
            if (got == 0) {
                mcrx_context_wait(cc, 100, &r);
                continue;
            }
            quiet_until = th_now_ms() + TH_WAIT_MS;
            for (i = 0; i < got; i++) {
                int s = sender_of(f, &dgs[i].source);
                from[s < 0 || dgs[i].len < 1 || ((const char *)dgs[i].buf)[0] != 'A' + s ? 3 : s]++;
            }
            total += (unsigned)got;
        }
        mcrx_context_free(cc);
        _exit(write(result[1], from, sizeof from) == (ssize_t)sizeof from ? 0 : 5);
    }
    close(ready[1]);
    close(result[1]);
    assert_int_equal(read(ready[0], &c, 1), 1); /* the child has joined */
    ctx = mcrx_context_new();
    assert_non_null(ctx);
    memset(t, 0, sizeof t);
    cfg = filter_config(f, f->asm_g, port, MCRX_SOURCES_INCLUDE, A, room);
    t[0].id = add_join(ctx, &cfg);
    t[0].mask = A;
    senders(f, snd);
    exchange(ctx, f, snd, f->asm_g, port, t, 1, "parent INCLUDE{A}, child EXCLUDE{A}");
    {
        unsigned from[4] = {9, 9, 9, 9};
        assert_int_equal(read(result[0], from, sizeof from), (ssize_t)sizeof from);
        for (k = 0; k < 3; k++)
            child_from[k] = from[k];
        assert_int_equal(from[3], 0); /* nothing from no sender or with a wrong payload */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (child_from[0] != 0 || child_from[1] != PER * BURSTS || child_from[2] != PER * BURSTS)
        fail_msg("child EXCLUDE{A} got A %u, B %u, C %u; expected 0, %u, %u", child_from[0],
                 child_from[1], child_from[2], PER * BURSTS, PER * BURSTS);
    mcrx_context_free(ctx);
    for (k = 0; k < 3; k++)
        close(snd[k]);
    close(ready[0]);
    close(result[0]);
}

/*
 * The receive-side check follows a change at once: datagrams the kernel
 * queued under the old filter (ASM) and the new one refuses (EXCLUDE{C})
 * are discarded, counted as another source, never delivered.
 */
static void queued_datagrams_follow_the_new_filter(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config c;
    mcrx_subscription_metrics m;
    mcrx_ip room[3];
    uint16_t port = th_port();
    int snd[3], k, i;
    tally t[1];
    assert_non_null(ctx);
    senders(f, snd);
    memset(t, 0, sizeof t);
    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_NONE, 0, room);
    t[0].id = add_join(ctx, &c);
    for (i = 0; i < 30; i++)
        for (k = 0; k < 3; k++) {
            char payload[8];
            snprintf(payload, sizeof payload, "%c%d", 'A' + k, i);
            th_send_str(snd[k], f->asm_g, port, payload);
        }
    th_settle(); /* all 90 queued in the socket, nothing read */
    set(ctx, t[0].id, f, MCRX_SOURCES_EXCLUDE, C);
    drain(ctx, f, t, 1, 0);
    assert_int_equal(t[0].from[0], 30);
    assert_int_equal(t[0].from[1], 30);
    assert_int_equal(t[0].from[2], 0);
    assert_int_equal(
        mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, t[0].id), &m), 0);
    assert_int_equal(m.discarded_other_source, 30);
    mcrx_context_free(ctx);
    for (k = 0; k < 3; k++)
        close(snd[k]);
}

static void write_sysctl(const char *path, unsigned v) {
    FILE *fp = fopen(path, "w");
    if (fp == NULL || fprintf(fp, "%u\n", v) < 0 || fclose(fp) != 0)
        fail_msg("cannot write %s (the test runs as root of its own namespace)", path);
}

/* Filler source i (0-based) for lists longer than A, B, C. */
static mcrx_ip filler(const fam *f, unsigned i) {
    char text[64];
    if (f == &V6)
        snprintf(text, sizeof text, "2001:db8:9::%x", i + 1);
    else
        snprintf(text, sizeof text, "192.0.%u.%u", 2 + (i / 250), 1 + (i % 250));
    return ip_of(text);
}

/* The kernel's own cap: how many sources one socket gets into a group
 * before the kernel refuses one (it must refuse with ENOBUFS). */
static unsigned kernel_max(const fam *f) {
    int fd = socket(f == &V6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    unsigned i;
    assert_true(fd >= 0);
    for (i = 0; i < 4096; i++) {
        struct group_source_req r;
        mcrx_ip g = ip_of(f->ssm_g), src = filler(f, i);
        memset(&r, 0, sizeof r);
        r.gsr_interface = th_rx_ifindex("vb");
        mcrx_ip_to_sockaddr(&g, 0, &r.gsr_group, sizeof r.gsr_group);
        mcrx_ip_to_sockaddr(&src, 0, &r.gsr_source, sizeof r.gsr_source);
        if (setsockopt(fd, f == &V6 ? IPPROTO_IPV6 : IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &r,
                       sizeof r) != 0) {
            assert_int_equal(errno, ENOBUFS);
            break;
        }
    }
    close(fd);
    return i;
}

static void check_limit_error(mcrx_context *ctx, const fam *f, unsigned needed) {
    const char *msg = mcrx_context_last_error(ctx);
    char num[16];
    snprintf(num, sizeof num, "%u", needed);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED);
    if (strncmp(msg, "MCRX: ", 6) != 0 || strstr(msg, f->knob) == NULL || strstr(msg, num) == NULL)
        fail_msg("message \"%s\" does not name %s and %s", msg, f->knob, num);
    print_message("%s\n", msg);
}

/*
 * The kernel refuses the source past igmp_max_msf / mld_max_msf (ENOBUFS).
 * IPv4: with the (per-namespace) sysctl at 3, the library refuses a join or
 * a change needing 4 before asking, naming the sysctl, its value and the
 * number needed. IPv6: mld_max_msf is one global setting that a network
 * namespace cannot even read, so here the kernel's refusal is the check: the
 * library undoes what it applied and reports the same kind, naming the
 * sysctl and the number needed. Either way the old filter stays and the
 * largest list that fits works.
 */
static void limits_are_named(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config c;
    mcrx_ip *room, one[3];
    uint16_t port = th_port();
    uint64_t id;
    unsigned max, i;
    int snd[3], k;
    tally t[1];
    assert_non_null(ctx);
    if (f == &V4)
        write_sysctl(f->sysctl, 3);
    max = kernel_max(f);
    if (f == &V4)
        assert_int_equal(max, 3);
    assert_true(max >= 3);
    room = calloc(max + 1, sizeof *room);
    assert_non_null(room);
    list_of(f, A | B | C, room);
    for (i = 3; i <= max; i++)
        room[i] = filler(f, i);

    /* max + 1 at add: stored; the join is refused, the state stays Bound */
    c = filter_config(f, f->ssm_g, port, MCRX_SOURCES_INCLUDE, A, one);
    c.sources = room;
    c.nsources = max + 1;
    assert_int_equal(mcrx_context_add(ctx, &c, &id), 0);
    assert_int_not_equal(mcrx_context_join_subscription(ctx, id), 0);
    check_limit_error(ctx, f, max + 1);
    assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
                     MCRX_STATE_BOUND);
    /* max fit, and receive */
    if (mcrx_context_set_sources(ctx, id, MCRX_SOURCES_INCLUDE, room, max) != 0 ||
        mcrx_context_join_subscription(ctx, id) != 0)
        fail_msg("%u sources: %s", max, mcrx_context_last_error(ctx));
    /* Joined: a change to max + 1 is refused and the max stay in place */
    assert_int_not_equal(mcrx_context_set_sources(ctx, id, MCRX_SOURCES_INCLUDE, room, max + 1),
                         0);
    check_limit_error(ctx, f, max + 1);
    assert_int_equal(
        mcrx_subscription_get_config(mcrx_context_get_subscription(ctx, id))->nsources, max);
    senders(f, snd);
    memset(t, 0, sizeof t);
    t[0].id = id;
    t[0].mask = A | B | C;
    exchange(ctx, f, snd, f->ssm_g, port, t, 1, "INCLUDE of the most after a refused change");

    /* A change of mode refused for the limit keeps the old membership: an
     * ASM-range group joined INCLUDE{A, B, C}, asked for EXCLUDE of max + 1
     * (IPv6: only the kernel refuses, after the library left the group to
     * change the mode the portable way). */
    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_INCLUDE, A | B | C, one);
    id = add_join(ctx, &c);
    for (i = 0; i <= max; i++)
        room[i] = filler(f, i + 3);
    assert_int_not_equal(mcrx_context_set_sources(ctx, id, MCRX_SOURCES_EXCLUDE, room, max + 1),
                         0);
    check_limit_error(ctx, f, max + 1);
    assert_int_equal(
        mcrx_subscription_get_config(mcrx_context_get_subscription(ctx, id))->sources_mode,
        MCRX_SOURCES_INCLUDE);
    memset(t, 0, sizeof t);
    t[0].id = id;
    t[0].mask = A | B | C;
    for (i = 0; i < PER; i++)
        th_send_str(snd[0], f->asm_g, port, "A");
    if ((i = drain(ctx, f, t, 1, PER)) != PER)
        fail_msg("after a refused change of mode: %u of %u datagrams from A", i, PER);
    exchange(ctx, f, snd, f->asm_g, port, t, 1, "INCLUDE kept after a refused mode change");
    assert_int_equal(mcrx_context_remove_subscription(ctx, id), 0);

    /* EXCLUDE counts against the same limit */
    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_EXCLUDE, A, one);
    c.sources = room;
    c.nsources = max + 1;
    assert_int_equal(mcrx_context_add(ctx, &c, &id), 0);
    assert_int_not_equal(mcrx_context_join_subscription(ctx, id), 0);
    check_limit_error(ctx, f, max + 1);
    if (f == &V4)
        write_sysctl(f->sysctl, 10);
    free(room);
    mcrx_context_free(ctx);
    for (k = 0; k < 3; k++)
        close(snd[k]);
}

/*
 * A caller's socket that already holds the group in EXCLUDE mode with a
 * blocked source (its own join and block): the kernel refuses a source join
 * with EINVAL, and the error names the rule, not just "Invalid argument".
 * (With nothing blocked the kernel lets a source join switch the mode.)
 */
static void kernel_mode_rules_are_named(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config c;
    mcrx_ip room[3];
    uint16_t port = th_port();
    uint64_t id;
    const char *msg;
    int sock = th_foreign_socket(f == &V6 ? "::" : "0.0.0.0", port);
    assert_non_null(ctx);
    struct group_source_req r;
    mcrx_ip g = ip_of(f->asm_g), blocked = filler(f, 7);
    th_foreign_join(sock, f->asm_g, th_rx_ifindex("vb"));
    /* EXCLUDE{X}: with an empty list the kernel would allow the switch */
    memset(&r, 0, sizeof r);
    r.gsr_interface = th_rx_ifindex("vb");
    mcrx_ip_to_sockaddr(&g, 0, &r.gsr_group, sizeof r.gsr_group);
    mcrx_ip_to_sockaddr(&blocked, 0, &r.gsr_source, sizeof r.gsr_source);
    assert_int_equal(setsockopt(sock, f == &V6 ? IPPROTO_IPV6 : IPPROTO_IP, MCAST_BLOCK_SOURCE,
                                &r, sizeof r),
                     0);
    c = filter_config(f, f->asm_g, port, MCRX_SOURCES_INCLUDE, A, room);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &c, sock, &id), 0);
    assert_int_not_equal(mcrx_context_join_subscription(ctx, id), 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_MULTICAST_JOIN_FAILED);
    assert_int_equal(mcrx_context_last_os_error(ctx), EINVAL);
    msg = mcrx_context_last_error(ctx);
    if (strstr(msg, "EXCLUDE mode") == NULL)
        fail_msg("message \"%s\" does not name the mode rule", msg);
    print_message("%s\n", msg);
    mcrx_context_free(ctx);
}

static void v4_filters(void **s) {
    (void)s;
    filters_deliver_exactly_their_sources(&V4);
}
static void v6_filters(void **s) {
    (void)s;
    filters_deliver_exactly_their_sources(&V6);
}
static void v4_ssm_include(void **s) {
    (void)s;
    ssm_include_of_two(&V4);
}
static void v6_ssm_include(void **s) {
    (void)s;
    ssm_include_of_two(&V6);
}
static void v4_queued(void **s) {
    (void)s;
    queued_datagrams_follow_the_new_filter(&V4);
}
static void v6_queued(void **s) {
    (void)s;
    queued_datagrams_follow_the_new_filter(&V6);
}
static void v4_two_processes(void **s) {
    (void)s;
    two_processes_keep_their_own_filters(&V4);
}
static void v6_two_processes(void **s) {
    (void)s;
    two_processes_keep_their_own_filters(&V6);
}
static void v4_limits(void **s) {
    (void)s;
    limits_are_named(&V4);
}
static void v6_limits(void **s) {
    (void)s;
    limits_are_named(&V6);
}
static void v4_mode_rules(void **s) {
    (void)s;
    kernel_mode_rules_are_named(&V4);
}
static void v6_mode_rules(void **s) {
    (void)s;
    kernel_mode_rules_are_named(&V6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v4_filters),    cmocka_unit_test(v6_filters),
        cmocka_unit_test(v4_ssm_include), cmocka_unit_test(v6_ssm_include),
        cmocka_unit_test(v4_queued),     cmocka_unit_test(v6_queued),
        cmocka_unit_test(v4_two_processes), cmocka_unit_test(v6_two_processes),
        cmocka_unit_test(v4_limits),     cmocka_unit_test(v6_limits),
        cmocka_unit_test(v4_mode_rules), cmocka_unit_test(v6_mode_rules),
    };
    th_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
