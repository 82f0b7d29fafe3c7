/*
 * Interface sets composed with source filters, on the real kernel, IPv4 and
 * IPv6 (scripts/netns-run.sh: vb–va and vb2–va2; the senders A, B, C are
 * the sender host's addresses S_*, S_*_OTHER, S_*_L2, each sending out of
 * both va and va2, so all three reach the receiver on both links).
 *
 * - A set {vb, vb2} with INCLUDE{A}: exactly A's datagrams, from both links,
 *   each with its ingress interface; set_sources EXCLUDE{A} while joined:
 *   exactly B's and C's, from both links, never A's.
 * - INCLUDE{B} on the set; vb2 deleted and re-created (a new index): after
 *   JOINED, vb2's traffic is B's only, and the kernel's filter
 *   (/proc/net/mcfilter, mcfilter6; /proc/net/igmp, igmp6) is on the new
 *   index with B only.
 * - The same group:port, set and filter spelled in another order is a
 *   DUPLICATE_SUBSCRIPTION; another filter on the same set is allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "links.h"

#define BURSTS 20
#define PER 5 /* per sender per link per burst: 100 a sender a link a phase */
#define TOTAL (BURSTS * PER)

enum { A = 1, B = 2, C = 4 };



typedef struct fam {
    int v6;
    const char *src[3];
    const char *group;
    const char *group_hex;  /* as /proc/net/mcfilter(6) writes it */
    const char *src_hex[3];
    const char *igmp_hex;   /* as /proc/net/igmp(6) writes the group */
} fam;

static const fam V4 = {0,
                       {S_V4, S_V4_OTHER, S_V4_L2},
                       "239.78.0.1",
                       "0xef4e0001",
                       {"0xc6336401", "0xc6336403", "0xcb007101"},
                       "01004EEF"};
static const fam V6 = {1,
                       {S_V6, S_V6_OTHER, S_V6_L2},
                       "ff0e::78:1",
                       "ff0e0000000000000000000000780001",
                       {"20010db8000100000000000000000001", "20010db8000100000000000000000003",
                        "20010db8000200000000000000000001"},
                       "ff0e0000000000000000000000780001"};

static const char *const names[] = {"vb", "vb2"};
static const char *const links[] = {"va", "va2"};

static mcrx_ip ip_of(const char *text) {
    mcrx_ip ip;
    assert_int_equal(mcrx_ip_parse(text, &ip), MCRX_ERROR_NONE);
    return ip;
}

/* The senders in mask, in the order C, B, A (the library sorts). */
static size_t list_of(const fam *f, int mask, int reverse, mcrx_ip *out) {
    size_t n = 0;
    int k;
    for (k = 0; k < 3; k++) {
        int s = reverse ? k : 2 - k;
        if (mask & (1 << s))
            out[n++] = ip_of(f->src[s]);
    }
    return n;
}

static int add_set(mcrx_context *ctx, const fam *f, uint16_t port, uint32_t mode, int mask,
                   int reverse, uint64_t *id) {
    mcrx_subscription_config c;
    mcrx_ip room[3];
    assert_int_equal(mcrx_subscription_config_parse(&c, f->group, port, NULL, NULL), 0);
    c.interfaces = names;
    c.ninterfaces = 2;
    c.sources_mode = mode;
    c.nsources = (uint32_t)list_of(f, mask, reverse, room);
    c.sources = room;
    c.rcvbuf_bytes = 4u << 20;
    return mcrx_context_add(ctx, &c, id);
}



static void senders(const fam *f, int snd[2][3]) {
    int l, k;
    for (l = 0; l < 2; l++)
        for (k = 0; k < 3; k++)
            snd[l][k] = th_sender(f->src[k], links[l]);
}

static void close_senders(int snd[2][3]) {
    int l, k;
    for (l = 0; l < 2; l++)
        for (k = 0; k < 3; k++)
            close(snd[l][k]);
}

/* got[link][sender]; wrong: unknown source / interface, or a payload that
 * names another sender or link than the datagram's source and ingress. */
typedef struct tally {
    unsigned got[2][3];
    unsigned wrong;
} tally;

static int sender_of(const fam *f, const mcrx_ip *ip) {
    int k;
    for (k = 0; k < 3; k++) {
        mcrx_ip s = ip_of(f->src[k]);
        if (mcrx_ip_equal(&s, ip))
            return k;
    }
    return -1;
}

static unsigned drain(mcrx_context *ctx, const fam *f, const uint32_t *idx, tally *t,
                      unsigned want) {
    static char arena[64][64];
    mcrx_datagram dgs[64];
    mcrx_metadata metas[64];
    unsigned total = 0;
    long long quiet_until = th_now_ms() + TH_WAIT_MS;
    while (want == 0 || total < want) {
        size_t got = 0, i;
        int ready = 0;
        mcrx_datagrams_init(dgs, 64, arena, sizeof arena[0], metas);
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
            int s = sender_of(f, &dgs[i].source), l;
            const char *p = (const char *)dgs[i].buf;
            assert_true(metas[i].valid & MCRX_META_INGRESS_IF);
            l = metas[i].ingress_interface_index == idx[0]   ? 0
                : metas[i].ingress_interface_index == idx[1] ? 1
                                                             : -1;
            if (s < 0 || l < 0 || dgs[i].len < 2 || p[0] != 'A' + s || p[1] != '0' + l) {
                t->wrong++;
                continue;
            }
            t->got[l][s]++;
        }
        total += (unsigned)got;
    }
    return total;
}

/* TOTAL datagrams from each sender on each link; exactly TOTAL of each
 * sender in mask must arrive on each link, nothing else. */
static void exchange(mcrx_context *ctx, const fam *f, int snd[2][3], uint16_t port, int mask,
                     const char *phase) {
    uint32_t idx[2] = {th_rx_ifindex("vb"), th_rx_ifindex("vb2")};
    unsigned want = 0;
    tally t;
    int b, i, l, k;
    memset(&t, 0, sizeof t);
    for (k = 0; k < 3; k++)
        if (mask & (1 << k))
            want += 2 * PER;
    for (b = 0; b < BURSTS; b++) {
        for (i = 0; i < PER; i++)
            for (l = 0; l < 2; l++)
                for (k = 0; k < 3; k++) {
                    char payload[16];
                    snprintf(payload, sizeof payload, "%c%d:%d", 'A' + k, l, b * PER + i);
                    th_send_str(snd[l][k], f->group, port, payload);
                }
        drain(ctx, f, idx, &t, want);
    }
    th_settle();
    drain(ctx, f, idx, &t, 0);
    for (l = 0; l < 2; l++)
        for (k = 0; k < 3; k++) {
            unsigned should = (mask & (1 << k)) ? TOTAL : 0;
            if (t.got[l][k] != should)
                fail_msg("IPv%d %s: %u from %s on %s, expected %u", f->v6 ? 6 : 4, phase,
                         t.got[l][k], f->src[k], names[l], should);
        }
    assert_int_equal(t.wrong, 0);
}

static void set(mcrx_context *ctx, uint64_t id, const fam *f, uint32_t mode, int mask) {
    mcrx_ip room[3];
    size_t n = list_of(f, mask, 0, room);
    if (mcrx_context_set_sources(ctx, id, mode, room, n) != 0)
        fail_msg("set_sources: %s", mcrx_context_last_error(ctx));
}

/* ---- 1. INCLUDE{A} on the set, then EXCLUDE{A} while joined ---- */

static void check_filter_on_set(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int snd[2][3];
    uint64_t id = 0;
    assert_non_null(ctx);
    senders(f, snd);
    if (add_set(ctx, f, port, MCRX_SOURCES_INCLUDE, A, 0, &id) != 0 ||
        mcrx_context_join_subscription(ctx, id) != 0)
        fail_msg("add/join: %s", mcrx_context_last_error(ctx));
    exchange(ctx, f, snd, port, A, "set INCLUDE{A}");
    set(ctx, id, f, MCRX_SOURCES_EXCLUDE, A);
    exchange(ctx, f, snd, port, B | C, "set EXCLUDE{A}");
    mcrx_context_free(ctx);
    close_senders(snd);
}

static void filter_v4(void **st) { (void)st; check_filter_on_set(&V4); }
static void filter_v6(void **st) { (void)st; check_filter_on_set(&V6); }

/* ---- 2. the rejoin keeps the filter ---- */


/* Lines of the kernel's source list for ifindex idx and the group with
 * source hex src (INCLUDE count 1, EXCLUDE 0), or with any source (src
 * NULL): how many. */
static int mcfilter_lines(const fam *f, uint32_t idx, const char *src) {
    char cmd[512];
    FILE *p;
    int n = -1;
    snprintf(cmd, sizeof cmd,
             "awk '$1==\"%u\" && $3==\"%s\" %s%s%s' %s | wc -l", (unsigned)idx, f->group_hex,
             src ? "&& $4==\"" : "", src ? src : "", src ? "\" && $5==1 && $6==0" : "",
             f->v6 ? "/proc/net/mcfilter6" : "/proc/net/mcfilter");
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static int kernel_member(const fam *f, const char *ifname) {
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             f->v6 ? "awk '$2==\"%s\" && $3==\"%s\"' /proc/net/igmp6 | grep -q ."
                   : "awk '/^[0-9]/{dev=$2} dev==\"%s\" && $1==\"%s\"' /proc/net/igmp | grep -q .",
             ifname, f->igmp_hex);
    return system(cmd) == 0;
}

static void check_rejoin_keeps_filter(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_interface_event ev;
    uint16_t port = th_port();
    uint32_t old, now, vb = th_rx_ifindex("vb");
    int snd[2][3], probe, resumed = 0;
    uint64_t id = 0;
    long long end;
    assert_non_null(ctx);
    if (add_set(ctx, f, port, MCRX_SOURCES_INCLUDE, B, 0, &id) != 0 ||
        mcrx_context_join_subscription(ctx, id) != 0)
        fail_msg("add/join: %s", mcrx_context_last_error(ctx));
    old = th_rx_ifindex("vb2");
    assert_int_equal(mcfilter_lines(f, old, f->src_hex[1]), 1);
    assert_int_equal(mcfilter_lines(f, old, NULL), 1);
    tl_sh("ip link del vb2");
    ev = tl_wait_event(ctx, MCRX_IFEVENT_LOST, "vb2");
    assert_int_equal(ev.interface_index, old);
    tl_make_vb2();
    now = th_rx_ifindex("vb2");
    assert_int_not_equal(now, old);
    ev = tl_wait_event(ctx, MCRX_IFEVENT_JOINED, "vb2");
    assert_int_equal(ev.interface_index, now);
    assert_int_equal(ev.subscription_id, id);
    /* The kernel's records: the group on the new vb2, with B only. */
    assert_true(kernel_member(f, "vb2"));
    assert_int_equal(mcfilter_lines(f, now, f->src_hex[1]), 1);
    assert_int_equal(mcfilter_lines(f, now, NULL), 1);
    assert_int_equal(mcfilter_lines(f, old, NULL), 0);
    assert_int_equal(mcfilter_lines(f, vb, f->src_hex[1]), 1);
    assert_int_equal(mcfilter_lines(f, vb, NULL), 1);
    /* Delivery on the new vb2 resumes (B probing, nothing else counted:
     * drained below as B's), then the exact exchange. */
    probe = th_sender(f->src[1], "va2");
    end = th_now_ms() + TH_WAIT_MS;
    while (!resumed && th_now_ms() < end) {
        char buf[64];
        mcrx_datagram dg;
        mcrx_metadata meta;
        size_t n = 0;
        int ready = 0;
        th_send_str(probe, f->group, port, "probe");
        mcrx_datagram_init(&dg, buf, sizeof buf);
        dg.meta = &meta;
        assert_int_equal(mcrx_context_recv(ctx, &dg, &n), 0);
        if (n == 0) {
            mcrx_context_wait(ctx, 10, &ready);
            continue;
        }
        assert_int_equal(sender_of(f, &dg.source), 1);
        assert_int_equal(meta.ingress_interface_index, now);
        resumed = 1;
    }
    assert_true(resumed);
    th_settle();
    {
        /* The rest of the probes: B's, on the new vb2. */
        char buf[64];
        mcrx_datagram dg;
        mcrx_metadata meta;
        size_t n = 0;
        do {
            mcrx_datagram_init(&dg, buf, sizeof buf);
            dg.meta = &meta;
            assert_int_equal(mcrx_context_recv(ctx, &dg, &n), 0);
            if (n) {
                assert_int_equal(sender_of(f, &dg.source), 1);
                assert_int_equal(meta.ingress_interface_index, now);
            }
        } while (n);
    }
    close(probe);
    senders(f, snd);
    exchange(ctx, f, snd, port, B, "after rejoin INCLUDE{B}");
    mcrx_context_free(ctx);
    close_senders(snd);
    assert_int_equal(mcfilter_lines(f, now, NULL), 0);
}

static void rejoin_v4(void **st) { (void)st; check_rejoin_keeps_filter(&V4); }
static void rejoin_v6(void **st) { (void)st; check_rejoin_keeps_filter(&V6); }

/* ---- 3. duplicates compare the filter as a set ---- */

static void check_duplicate(const fam *f) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    uint64_t id = 0, id2 = 0, id3 = 0;
    assert_non_null(ctx);
    assert_int_equal(add_set(ctx, f, port, MCRX_SOURCES_INCLUDE, A | B, 0, &id), 0);
    /* The same filter, sources in another order. */
    assert_int_not_equal(add_set(ctx, f, port, MCRX_SOURCES_INCLUDE, A | B, 1, &id2), 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    /* Joined, the same. */
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    assert_int_not_equal(add_set(ctx, f, port, MCRX_SOURCES_INCLUDE, A | B, 1, &id2), 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    /* Another filter on the same set: allowed. */
    if (add_set(ctx, f, port, MCRX_SOURCES_INCLUDE, A, 0, &id2) != 0)
        fail_msg("INCLUDE{A}: %s", mcrx_context_last_error(ctx));
    if (add_set(ctx, f, port, MCRX_SOURCES_EXCLUDE, A | B, 1, &id3) != 0)
        fail_msg("EXCLUDE{A,B}: %s", mcrx_context_last_error(ctx));
    assert_true(id2 != id && id3 != id && id3 != id2);
    mcrx_context_free(ctx);
}

static void duplicate_v4(void **st) { (void)st; check_duplicate(&V4); }
static void duplicate_v6(void **st) { (void)st; check_duplicate(&V6); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filter_v4),    cmocka_unit_test(filter_v6),
        cmocka_unit_test(rejoin_v4),    cmocka_unit_test(rejoin_v6),
        cmocka_unit_test(duplicate_v4), cmocka_unit_test(duplicate_v6),
    };
    th_init();
    tl_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
