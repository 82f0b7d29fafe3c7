/*
 * Interface sets and rejoin on the real kernel (scripts/netns-run.sh: the
 * receiver R has vb and vb2 toward the sender S's va and va2; the tests add
 * a third link vc–vx and delete and re-create vb2–va2).
 *
 * - A set {vb, vb2} and ALL get the group from both links, IPv4 and IPv6,
 *   ASM and SSM, each datagram with its ingress interface, exact counts; a
 *   third link carrying the same group:port (joined there by another
 *   socket) delivers nothing to the subscription (IPv6: counted as
 *   discarded, the kernel does not check the interface).
 * - vb2 deleted and re-created with the same name (a new index): LOST then
 *   JOINED events, delivery resumes on the new index within 2 s with no
 *   call but receiving; link down and up: the same; the kernel's records
 *   (/proc/net/igmp, igmp6) keep no stale membership, and with
 *   igmp_max_memberships 2 the cycle repeats without the limit being eaten
 *   (SSM: the membership a source leave would strand).
 * - ALL: the same delete / re-create and down / up of vb2, followed once
 *   found; and a new link appearing after the join: joined, its traffic
 *   arrives.
 * - IPv6 MTU below 1280: LOST, back to 1500: JOINED and delivery again.
 * - igmp_max_memberships 2 and a set of 3: the join fails before the
 *   kernel refuses, naming the sysctl and 3.
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

#define N 1000          /* datagrams per link */
#define BURST 16



typedef struct fam {
    int v6;
    const char *s1, *s2, *s3;  /* senders on va, va2, vx */
    const char *asm_g, *ssm_g;
} fam;

static const fam V4 = {0, S_V4, S_V4_L2, "192.0.2.1", "239.14.0.1", "232.14.0.1"};
static const fam V6 = {1, S_V6, S_V6_L2, "2001:db8:3::1", "ff0e::14:1", "ff3e::14:1"};

/* IPv6 sends out of a fresh link once it has its link-local address (and
 * with it the multicast route): wait for both ends, bounded. */

/* (Re-)creates vb2–va2 with its addresses, both ends up. */

static void make_vc(void) {
    (void)system("ip link del vc 2>/dev/null");
    tl_sh("ip link add name vc type veth peer name vx netns %s", tl_sender_ns());
    tl_sh("ip addr add 192.0.2.2/24 dev vc && ip addr add 2001:db8:3::2/64 dev vc nodad && "
       "ip link set dev vc up");
    tl_sh("ip -n %s addr add 192.0.2.1/24 dev vx && ip -n %s addr add 2001:db8:3::1/64 dev vx nodad "
       "&& ip -n %s link set dev vx up",
       tl_sender_ns(), tl_sender_ns(), tl_sender_ns());
    tl_wait_linklocal("vc", "vx");
}

static void drop_vc(void) {
    (void)system("ip link del vc 2>/dev/null");
}

/* A subscription on group:port with an interface set. */
static uint64_t add_set(mcrx_context *ctx, const char *group, const char *source, uint16_t port,
                        const char *const *ifs, uint32_t n, uint32_t flags) {
    mcrx_subscription_config cfg;
    uint64_t id = 0;
    assert_int_equal(mcrx_subscription_config_parse(&cfg, group, port, source, NULL), 0);
    cfg.interfaces = ifs;
    cfg.ninterfaces = n;
    cfg.interface_flags = flags;
    cfg.rcvbuf_bytes = 4u << 20;
    if (mcrx_context_add(ctx, &cfg, &id) != 0)
        fail_msg("add: %s", mcrx_context_last_error(ctx));
    return id;
}

static void send_n(int fd, const char *group, uint16_t port, int n) {
    int i;
    for (i = 0; i < n; i++) {
        th_send(fd, group, port, &i, sizeof i);
        if (i % BURST == BURST - 1)
            usleep(500);
    }
}

/* Receives for up to ms (or until `until` datagrams), counting by ingress
 * interface: counts[k] for ifindex idx[k]; *other for any other. */
static size_t recv_count(mcrx_context *ctx, int ms, size_t until, const uint32_t *idx,
                         size_t *counts, size_t nidx, size_t *other) {
    static char arena[64][256];
    mcrx_datagram dgs[64];
    mcrx_metadata metas[64];
    size_t total = 0;
    long long end = th_now_ms() + ms;
    while (th_now_ms() < end && total < until) {
        size_t got = 0, i, k;
        int ready = 0;
        mcrx_datagrams_init(dgs, 64, arena, sizeof arena[0], metas);
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 64, &got), 0);
        for (i = 0; i < got; i++) {
            assert_true(metas[i].valid & MCRX_META_INGRESS_IF);
            for (k = 0; k < nidx; k++)
                if (metas[i].ingress_interface_index == idx[k])
                    break;
            if (k < nidx)
                counts[k]++;
            else
                (*other)++;
        }
        total += got;
        if (got == 0)
            mcrx_context_wait(ctx, 20, &ready);
    }
    return total;
}

static void expect_interfaces(mcrx_context *ctx, uint64_t id, const char *const *names, size_t n) {
    mcrx_interface_membership m[8];
    size_t count = 0, i, j;
    assert_int_equal(mcrx_subscription_interfaces(mcrx_context_get_subscription(ctx, id), m, 8,
                                                  &count), 0);
    for (i = 0; i < n; i++) {
        for (j = 0; j < count; j++)
            if (strcmp(m[j].interface_name, names[i]) == 0)
                break;
        if (j == count)
            fail_msg("%s is not in the subscription's interfaces", names[i]);
        assert_int_equal(m[j].joined, 1);
        assert_int_equal(m[j].interface_index, th_rx_ifindex(names[i]));
    }
}

/* ---- sets and ALL deliver from both links, nothing from a third ---- */

static void check_set(const fam *f, int ssm, int all) {
    static const char *const names[] = {"vb", "vb2"};
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_metrics m;
    uint16_t port = th_port();
    const char *group = ssm ? f->ssm_g : f->asm_g;
    uint32_t idx[2] = {th_rx_ifindex("vb"), th_rx_ifindex("vb2")};
    size_t counts[2] = {0, 0}, other = 0, extra[2] = {0, 0}, other2 = 0;
    int s1 = th_sender(f->s1, "va"), s2 = th_sender(f->s2, "va2"), s3, foreign;
    uint64_t id;
    make_vc();
    /* The third link's sender uses va's source address: the same (S,G),
     * only the interface differs. */
    s3 = th_sender(f->s1, "vx");
    /* Another program joins the group on the third link, so its datagrams
     * reach this host at all. */
    foreign = th_foreign_socket(f->v6 ? "::" : "0.0.0.0", port);
    th_foreign_join(foreign, group, th_rx_ifindex("vc"));
    /* SSM: INCLUDE{va's sender} on each interface; va2's sender is
     * another source and must not arrive. */
    if (all)
        id = add_set(ctx, group, ssm ? f->s1 : NULL, port, NULL, 0, MCRX_IFSET_ALL);
    else
        id = add_set(ctx, group, ssm ? f->s1 : NULL, port, names, 2, 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    expect_interfaces(ctx, id, names, 2);
    {
        /* The socket-list tier lists the interface monitor too: a loop
         * watching only the subscription's socket would never rejoin. */
        mcrx_sock socks[4];
        size_t n = 0;
        assert_int_equal(mcrx_context_sockets(ctx, socks, 4, &n), 0);
        assert_int_equal(n, 2);
        assert_true(socks[0] >= 0 && socks[1] >= 0 && socks[1] != socks[0]);
    }
    th_settle();
    send_n(s1, group, port, N);
    send_n(s2, group, port, N);
    /* SSM: the second link's sender is another source; not wanted. */
    recv_count(ctx, TH_WAIT_MS * 2, ssm ? N : 2 * N, idx, counts, 2, &other);
    send_n(s3, group, port, N); /* the third link: never ours */
    th_settle();
    recv_count(ctx, 300, (size_t)-1, idx, extra, 2, &other2);
    assert_int_equal(counts[0], N);
    assert_int_equal(counts[1], ssm ? 0 : N);
    assert_int_equal(other, 0);
    if (all) {
        /* ALL took vc too (it is up and multicast-capable): its N arrive. */
        assert_int_equal(other2, N);
    } else {
        assert_int_equal(other2, 0);
        assert_int_equal(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &m),
                         0);
        /* IPv4's membership check is per interface, so the kernel keeps
         * vc's copies away; IPv6's is not, and classify discards them. */
        if (f->v6)
            assert_int_equal(m.discarded_other_interface, N);
        else
            assert_int_equal(m.discarded_other_interface, 0);
    }
    assert_int_equal(extra[0] + extra[1], 0);
    mcrx_context_free(ctx);
    close(foreign);
    close(s1);
    close(s2);
    close(s3);
    drop_vc();
}

static void set_v4_asm(void **st) { (void)st; check_set(&V4, 0, 0); }
static void set_v4_ssm(void **st) { (void)st; check_set(&V4, 1, 0); }
static void set_v6_asm(void **st) { (void)st; check_set(&V6, 0, 0); }
static void set_v6_ssm(void **st) { (void)st; check_set(&V6, 1, 0); }
static void all_v4(void **st) { (void)st; check_set(&V4, 0, 1); }
static void all_v6(void **st) { (void)st; check_set(&V6, 0, 1); }

/* ---- rejoin ---- */


/* Sends on va2 every 10 ms until a datagram arrives through vb2 (index
 * idx); returns the milliseconds it took. */
static long long resume_ms(mcrx_context *ctx, const fam *f, const char *group, uint16_t port,
                           uint32_t idx, long long t0) {
    int s2 = th_sender(f->s2, "va2");
    long long end = t0 + TH_WAIT_MS;
    while (th_now_ms() < end) {
        size_t counts[1] = {0}, other = 0;
        int i = 0;
        th_send(s2, group, port, &i, sizeof i);
        recv_count(ctx, 10, 1, &idx, counts, 1, &other);
        if (counts[0] > 0) {
            close(s2);
            return th_now_ms() - t0;
        }
    }
    close(s2);
    fail_msg("delivery on the new vb2 (index %u) did not resume within %d ms", idx, TH_WAIT_MS);
    return -1;
}

/* 1 if the kernel's per-device list (/proc/net/igmp or igmp6) shows group
 * hex on ifname. */
static int kernel_member(int v6, const char *ifname, const char *hex) {
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             v6 ? "awk '$2==\"%s\" && $3==\"%s\"' /proc/net/igmp6 | grep -q ."
                : "awk '/^[0-9]/{dev=$2} dev==\"%s\" && $1==\"%s\"' /proc/net/igmp | grep -q .",
             ifname, hex);
    return system(cmd) == 0;
}

static void check_rejoin(const fam *f, int ssm, int all) {
    static const char *const names[] = {"vb", "vb2"};
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    mcrx_interface_event ev;
    mcrx_subscription_metrics m;
    uint16_t port = th_port();
    const char *group = ssm ? f->ssm_g : f->asm_g;
    /* /proc/net/igmp writes the group as the host-order hex of the
     * network-order word; igmp6 as 32 hex digits. */
    const char *hex = f->v6 ? (ssm ? "ff3e0000000000000000000000140001"
                                   : "ff0e0000000000000000000000140001")
                            : (ssm ? "01000EE8" : "01000EEF");
    uint32_t old, now;
    uint64_t id = 0;
    int round;
    long long ms;
    /* Two memberships per socket at most: a stranded entry would make the
     * second round's rejoin fail (ENOBUFS). */
    if (!f->v6)
        tl_sh("sysctl -qw net.ipv4.igmp_max_memberships=2");
    assert_int_equal(mcrx_subscription_config_parse(&cfg, group, port, ssm ? f->s2 : NULL, NULL), 0);
    if (all) {
        cfg.interface_flags = MCRX_IFSET_ALL; /* vb2 is followed once ALL found it */
    } else {
        cfg.interfaces = names;
        cfg.ninterfaces = 2;
    }
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    resume_ms(ctx, f, group, port, th_rx_ifindex("vb2"), th_now_ms());
    assert_true(kernel_member(f->v6, "vb2", hex));
    for (round = 0; round < 2; round++) {
        old = th_rx_ifindex("vb2");
        tl_sh("ip link del vb2");
        ev = tl_wait_event(ctx, MCRX_IFEVENT_LOST, "vb2");
        assert_int_equal(ev.interface_index, old);
        assert_int_equal(ev.subscription_id, id);
        tl_make_vb2();
        now = th_rx_ifindex("vb2");
        ms = th_now_ms();
        ev = tl_wait_event(ctx, MCRX_IFEVENT_JOINED, "vb2");
        assert_int_equal(ev.interface_index, now);
        ms = resume_ms(ctx, f, group, port, now, ms);
        fprintf(stderr, "test_ifset: IPv%d %s%s re-created vb2 (index %u -> %u): delivery resumed "
                        "in %lld ms\n", f->v6 ? 6 : 4, ssm ? "SSM" : "ASM", all ? " ALL" : "", old,
                now, ms);
        assert_true(ms <= TH_WAIT_MS);
        assert_true(kernel_member(f->v6, "vb2", hex));
    }
    /* Down and up: the same index, lost and joined again. */
    tl_sh("ip link set dev vb2 down");
    ev = tl_wait_event(ctx, MCRX_IFEVENT_LOST, "vb2");
    assert_int_equal(ev.interface_index, th_rx_ifindex("vb2"));
    tl_sh("ip link set dev vb2 up");
    ms = th_now_ms();
    tl_wait_event(ctx, MCRX_IFEVENT_JOINED, "vb2");
    ms = resume_ms(ctx, f, group, port, th_rx_ifindex("vb2"), ms);
    assert_true(ms <= TH_WAIT_MS);
    if (f->v6) {
        /* Below 1280 the kernel destroys IPv6 groups silently. */
        tl_sh("ip link set dev vb2 mtu 1200");
        tl_wait_event(ctx, MCRX_IFEVENT_LOST, "vb2");
        tl_sh("ip link set dev vb2 mtu 1500");
        ms = th_now_ms();
        tl_wait_event(ctx, MCRX_IFEVENT_JOINED, "vb2");
        ms = resume_ms(ctx, f, group, port, th_rx_ifindex("vb2"), ms);
        assert_true(ms <= TH_WAIT_MS);
    }
    assert_int_equal(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &m), 0);
    assert_int_equal(m.interface_losses, f->v6 ? 4 : 3);
    assert_int_equal(m.interface_rejoins, f->v6 ? 4 : 3);
    expect_interfaces(ctx, id, names, 2);
    /* vb2 gone with no receive since (not looked at): the leave still
     * succeeds, and vb's membership goes. */
    tl_sh("ip link del vb2");
    assert_int_equal(mcrx_context_leave_subscription(ctx, id), 0);
    tl_make_vb2();
    /* Removed: nothing of it is left in the kernel. */
    assert_int_equal(mcrx_context_remove_subscription(ctx, id), 0);
    assert_false(kernel_member(f->v6, "vb2", hex));
    assert_false(kernel_member(f->v6, "vb", hex));
    mcrx_context_free(ctx);
    if (!f->v6)
        tl_sh("sysctl -qw net.ipv4.igmp_max_memberships=20");
}

static void rejoin_v4_asm(void **st) { (void)st; check_rejoin(&V4, 0, 0); }
static void rejoin_v4_ssm(void **st) { (void)st; check_rejoin(&V4, 1, 0); }
static void rejoin_v6_asm(void **st) { (void)st; check_rejoin(&V6, 0, 0); }
static void rejoin_v6_ssm(void **st) { (void)st; check_rejoin(&V6, 1, 0); }
static void rejoin_v4_all(void **st) { (void)st; check_rejoin(&V4, 0, 1); }
static void rejoin_v6_all(void **st) { (void)st; check_rejoin(&V6, 0, 1); }

/* ALL gains a link that appears after the join. */
static void all_gains(void **st) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    mcrx_interface_event ev;
    uint64_t id;
    size_t counts[1] = {0}, other = 0;
    uint32_t idx;
    int s3;
    (void)st;
    id = add_set(ctx, V4.asm_g, NULL, port, NULL, 0, MCRX_IFSET_ALL);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    make_vc();
    ev = tl_wait_event(ctx, MCRX_IFEVENT_JOINED, "vc");
    idx = th_rx_ifindex("vc");
    assert_int_equal(ev.interface_index, idx);
    s3 = th_sender(V4.s3, "vx");
    send_n(s3, V4.asm_g, port, 100);
    recv_count(ctx, TH_WAIT_MS, 100, &idx, counts, 1, &other);
    assert_int_equal(counts[0], 100);
    assert_int_equal(other, 0);
    close(s3);
    mcrx_context_free(ctx);
    drop_vc();
}

/* ---- the limit, planned ---- */

static void limit_planned(void **st) {
    static const char *const names[] = {"vb", "vb2", "vc"};
    mcrx_context *ctx = mcrx_context_new();
    uint64_t id;
    (void)st;
    make_vc();
    tl_sh("sysctl -qw net.ipv4.igmp_max_memberships=2");
    id = add_set(ctx, V4.asm_g, NULL, th_port(), names, 3, 0);
    assert_int_not_equal(mcrx_context_join_subscription(ctx, id), 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED);
    fprintf(stderr, "test_ifset: %s\n", mcrx_context_last_error(ctx));
    assert_non_null(strstr(mcrx_context_last_error(ctx), "net.ipv4.igmp_max_memberships is 2"));
    assert_non_null(strstr(mcrx_context_last_error(ctx), "needs 3 memberships"));
    assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
                     MCRX_STATE_BOUND);
    tl_sh("sysctl -qw net.ipv4.igmp_max_memberships=3");
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    mcrx_context_free(ctx);
    tl_sh("sysctl -qw net.ipv4.igmp_max_memberships=20");
    drop_vc();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_v4_asm),    cmocka_unit_test(set_v4_ssm),
        cmocka_unit_test(set_v6_asm),    cmocka_unit_test(set_v6_ssm),
        cmocka_unit_test(all_v4),        cmocka_unit_test(all_v6),
        cmocka_unit_test(rejoin_v4_asm), cmocka_unit_test(rejoin_v4_ssm),
        cmocka_unit_test(rejoin_v6_asm), cmocka_unit_test(rejoin_v6_ssm),
        cmocka_unit_test(rejoin_v4_all), cmocka_unit_test(rejoin_v6_all),
        cmocka_unit_test(all_gains),     cmocka_unit_test(limit_planned),
    };
    th_init();
    tl_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
