/* Windows, under wine: receiving from a Linux sender across a veth pair:
 * IPv4 and IPv6 ASM with the pktinfo metadata, interface choice, isolation
 * against cross traffic, fair turns, batches and truncation. */
#include <mcrx/mcrx.h>

#include <winsock2.h>

#include <stdio.h>
#include <string.h>

#include "wt.h"

/* Waits (mcrx_context_wait) and receives one datagram: 1, or 0 at the
 * deadline. */
static int recv_wait(mcrx_context *ctx, mcrx_datagram *dg, int ms) {
    long long end = wt_now_ms() + ms;
    for (;;) {
        size_t got = 0;
        int ready = 0;
        long long left = end - wt_now_ms();
        WT_OK(ctx, mcrx_context_recv(ctx, dg, &got));
        if (got == 1)
            return 1;
        if (left <= 0)
            return 0;
        WT_OK(ctx, mcrx_context_wait(ctx, (int)left, &ready));
    }
}

/* Nothing more arrives (after in-flight datagrams had time to land). */
static void expect_nothing(mcrx_context *ctx) {
    char buf[256];
    mcrx_datagram dg;
    size_t got = 0;
    wt_settle();
    mcrx_datagram_init(&dg, buf, sizeof buf);
    WT_OK(ctx, mcrx_context_recv(ctx, &dg, &got));
    if (got != 0)
        wt_fail(__FILE__, __LINE__, "a datagram was delivered: %.*s", (int)dg.len, buf);
}

/* Receives everything queued; returns the count. */
static size_t drain(mcrx_context *ctx) {
    char buf[256];
    mcrx_datagram dg;
    size_t n = 0, got;
    do {
        mcrx_datagram_init(&dg, buf, sizeof buf);
        WT_OK(ctx, mcrx_context_recv(ctx, &dg, &got));
        n += got;
    } while (got != 0);
    return n;
}

static uint64_t add_join(mcrx_context *ctx, const char *group, uint16_t port, const char *iface) {
    uint64_t id = 0;
    WT_OK(ctx, mcrx_context_add_subscription(ctx, group, port, NULL, iface, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    return id;
}

static const char *fmt(const mcrx_ip *ip, char *buf) {
    if (mcrx_ip_format(ip, buf, MCRX_IP_STRLEN) == 0)
        strcpy(buf, "(none)");
    return buf;
}

/* One datagram: payload, sender, subscription and pktinfo metadata. */
static void check_delivery(mcrx_context *ctx, uint64_t id, const char *group, uint16_t port,
                           const char *sender, const char *any, uint32_t ifindex) {
    char buf[256], a[MCRX_IP_STRLEN];
    mcrx_metadata meta;
    mcrx_datagram dg;
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &meta;
    wt_send(sender, group, port, "hello-windows", 1);
    WT_EQ_INT(recv_wait(ctx, &dg, WT_WAIT_MS), 1);
    WT_EQ_INT(dg.len, 13);
    WT_EQ_INT(dg.wire_len, 13);
    WT_EQ_INT(dg.flags, 0);
    WT_CHECK(memcmp(buf, "hello-windows", 13) == 0);
    WT_EQ_INT(dg.subscription_id, id);
    WT_EQ_STR(fmt(&dg.source, a), sender);
    WT_NE_INT(dg.source_port, 0);
    WT_EQ_STR(fmt(&dg.group, a), group);
    WT_EQ_INT(dg.dst_port, port);
    WT_EQ_INT(meta.valid & (MCRX_META_DESTINATION | MCRX_META_INGRESS_IF),
              MCRX_META_DESTINATION | MCRX_META_INGRESS_IF);
    WT_EQ_STR(fmt(&meta.destination_local_ip, a), group);
    WT_EQ_INT(meta.ingress_interface_index, ifindex);
    WT_EQ_STR(fmt(&meta.socket_local_ip, a), any);
    WT_EQ_INT(meta.socket_local_port, port);
    WT_EQ_INT(meta.valid & (MCRX_META_TIMESTAMP | MCRX_META_DROPS), 0);
}

static void ipv4_asm_delivers_with_destination_and_ingress_interface(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = add_join(ctx, "239.2.0.1", port, NULL);
    check_delivery(ctx, id, "239.2.0.1", port, S_V4, "0.0.0.0", wt_ifindex());
    expect_nothing(ctx);
    mcrx_context_free(ctx);
}

static void ipv6_asm_delivers_with_destination_and_ingress_interface(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    char idx[16];
    uint64_t id;
    snprintf(idx, sizeof idx, "%u", wt_ifindex());
    id = add_join(ctx, "ff0e::8000:201", port, idx);
    check_delivery(ctx, id, "ff0e::8000:201", port, S_V6, "::", wt_ifindex());
    expect_nothing(ctx);
    mcrx_context_free(ctx);
}

/* The IPv6 interface named by its address resolves to its index
 * (GetAdaptersAddresses) and the join lands there. */
static void ipv6_asm_joins_on_the_interface_named_by_address(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = add_join(ctx, "ff0e::8000:202", port, "2001:db8:2::2");
    mcrx_metadata meta;
    mcrx_datagram dg;
    char buf[64];
    WT_EQ_INT(mcrx_subscription_get_config(mcrx_context_get_subscription(ctx, id))->interface_index,
              MCRX_NO_INTERFACE_INDEX);
    check_delivery(ctx, id, "ff0e::8000:202", port, S_V6_L2, "::", wt_ifindex2());
    /* The same group arriving on the other link is not this subscription's. */
    wt_send(S_V6, "ff0e::8000:202", port, "wrong-link", 1);
    expect_nothing(ctx);
    (void)meta;
    (void)dg;
    (void)buf;
    mcrx_context_free(ctx);
}

/* An IPv4 subscription on link 2 (by address) sees link 2's datagrams only,
 * even when another subscription of the port joined the group on link 1. */
static void ipv4_interface_choice_keeps_the_other_links_datagrams_out(void) {
    mcrx_context *ctx = mcrx_context_new(), *other = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = add_join(ctx, "239.2.0.3", port, R_V4_L2);
    mcrx_subscription_metrics m;
    add_join(other, "239.2.0.3", port, R_V4);
    check_delivery(ctx, id, "239.2.0.3", port, S_V4_L2, "0.0.0.0", wt_ifindex2());
    wt_send(S_V4, "239.2.0.3", port, "link-1", 3);
    expect_nothing(ctx);
    WT_EQ_INT(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &m), 0);
    WT_EQ_INT(m.packets_received, 1);
    WT_EQ_INT(m.discarded_other_interface, 3);
    mcrx_context_free(other);
    mcrx_context_free(ctx);
}

/* Wine hands every socket bound to the port the datagrams of any group any
 * socket joined there (Linux's IP_MULTICAST_ALL), and unicast to the port:
 * the isolation check discards them all, and counts them. */
static void another_group_and_unicast_on_the_port_are_never_delivered(void) {
    mcrx_context *ctx = mcrx_context_new(), *other = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = add_join(ctx, "239.2.0.4", port, NULL);
    uint64_t id6 = add_join(ctx, "ff0e::8000:204", port, NULL);
    mcrx_subscription_metrics m;
    mcrx_context_metrics cm, ocm;
    add_join(other, "239.2.0.5", port, NULL);
    add_join(other, "ff0e::8000:205", port, NULL);

    wt_send(S_V4, "239.2.0.5", port, "other-group", 4);
    wt_send(S_V4, R_V4, port, "unicast", 2);
    wt_send(S_V6, "ff0e::8000:205", port, "other-group6", 3);
    wt_send(S_V6, R_V6, port, "unicast6", 2);
    expect_nothing(ctx);
    WT_EQ_INT(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &m), 0);
    WT_EQ_INT(m.packets_received, 0);
    WT_LE_INT(4, m.discarded_other_group);
    WT_EQ_INT(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id6), &m), 0);
    WT_EQ_INT(m.packets_received, 0);
    WT_LE_INT(3, m.discarded_other_group);
    /* Unicast to a port goes to one of the sockets bound there: to this
     * context's or the other's, which discards it all the same. */
    WT_EQ_INT(mcrx_context_metrics_get(ctx, &cm), 0);
    WT_EQ_INT(mcrx_context_metrics_get(other, &ocm), 0);
    WT_EQ_INT(cm.total_packets_received, 0);
    WT_EQ_INT(drain(other), 4 + 3); /* the other context's own groups */
    WT_EQ_INT(mcrx_context_metrics_get(other, &ocm), 0);
    WT_EQ_INT(cm.total_discarded + ocm.total_discarded, 4 + 2 + 3 + 2);
    /* Its own group still arrives, among the cross traffic. */
    check_delivery(ctx, id, "239.2.0.4", port, S_V4, "0.0.0.0", wt_ifindex());
    mcrx_context_free(other);
    mcrx_context_free(ctx);
}

/* Datagrams queued on two subscriptions come out taking turns. */
static void ready_subscriptions_take_turns(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t pa = wt_port(), pb = wt_port();
    uint64_t a = add_join(ctx, "239.2.0.6", pa, NULL);
    uint64_t b = add_join(ctx, "239.2.0.7", pb, NULL);
    char buf[64];
    mcrx_datagram dg;
    int i;
    wt_send(S_V4, "239.2.0.6", pa, "A", 3);
    wt_send(S_V4, "239.2.0.7", pb, "B", 3);
    wt_settle();
    for (i = 0; i < 6; i++) {
        mcrx_datagram_init(&dg, buf, sizeof buf);
        WT_EQ_INT(recv_wait(ctx, &dg, WT_WAIT_MS), 1);
        WT_EQ_INT(dg.subscription_id, (i % 2 == 0) ? a : b);
    }
    expect_nothing(ctx);
    mcrx_context_free(ctx);
}

/* A batch drains what is queued; every slot has its datagram and metadata. */
static void a_batch_receives_everything_queued_with_metadata(void) {
    enum { N = 40, SLOTS = 64, SLOT = 128 };
    static char arena[SLOTS * SLOT];
    static mcrx_metadata metas[SLOTS];
    mcrx_datagram dgs[SLOTS];
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = add_join(ctx, "239.2.0.8", port, NULL);
    size_t total = 0, got, i;
    long long end;
    char a[MCRX_IP_STRLEN];
    wt_send(S_V4, "239.2.0.8", port, "batch-item", N);
    end = wt_now_ms() + WT_WAIT_MS;
    while (total < N && wt_now_ms() < end) {
        int ready = 0;
        mcrx_datagrams_init(dgs, SLOTS, arena, SLOT, metas);
        WT_OK(ctx, mcrx_context_recv_batch(ctx, dgs, SLOTS, &got));
        for (i = 0; i < got; i++) {
            WT_EQ_INT(dgs[i].len, 10);
            WT_CHECK(memcmp(dgs[i].buf, "batch-item", 10) == 0);
            WT_EQ_INT(dgs[i].subscription_id, id);
            WT_EQ_STR(fmt(&dgs[i].meta->destination_local_ip, a), "239.2.0.8");
            WT_EQ_INT(dgs[i].meta->ingress_interface_index, wt_ifindex());
        }
        total += got;
        if (got == 0)
            WT_OK(ctx, mcrx_context_wait(ctx, 100, &ready));
    }
    WT_EQ_INT(total, N);
    expect_nothing(ctx);
    mcrx_context_free(ctx);
}

/*
 * Windows reports a datagram larger than its slot with WSAEMSGSIZE, having
 * filled the slot and dropped the rest, and does not say how large it was:
 * len is the slot, the TRUNCATED flag is set, and wire_len is cap + 1, "larger
 * than the slot" (docs/windows.md). The next datagram is whole.
 */
static void a_datagram_larger_than_its_slot_is_truncated_never_silently(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = add_join(ctx, "239.2.0.9", port, NULL);
    char buf[64], big[101];
    mcrx_subscription_metrics m;
    mcrx_datagram dg;
    memset(big, 'x', 100);
    big[100] = '\0';
    big[0] = 'A';
    wt_send(S_V4, "239.2.0.9", port, big, 1);
    wt_send(S_V4, "239.2.0.9", port, "small", 1);
    mcrx_datagram_init(&dg, buf, 16);
    WT_EQ_INT(recv_wait(ctx, &dg, WT_WAIT_MS), 1);
    WT_EQ_INT(dg.len, 16);
    WT_EQ_INT(dg.flags & MCRX_DATAGRAM_TRUNCATED, MCRX_DATAGRAM_TRUNCATED);
    WT_EQ_INT(dg.wire_len, 17);
    WT_CHECK(buf[0] == 'A' && buf[15] == 'x');
    mcrx_datagram_init(&dg, buf, sizeof buf);
    WT_EQ_INT(recv_wait(ctx, &dg, WT_WAIT_MS), 1);
    WT_EQ_INT(dg.len, 5);
    WT_EQ_INT(dg.wire_len, 5);
    WT_EQ_INT(dg.flags, 0);
    WT_EQ_INT(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &m), 0);
    WT_EQ_INT(m.truncated, 1);
    WT_EQ_INT(m.packets_received, 2);
    mcrx_context_free(ctx);
}

int main(int argc, char **argv) {
    static const wt_test tests[] = {
#define T(f) {#f, f}
        T(ipv4_asm_delivers_with_destination_and_ingress_interface),
        T(ipv6_asm_delivers_with_destination_and_ingress_interface),
        T(ipv6_asm_joins_on_the_interface_named_by_address),
        T(ipv4_interface_choice_keeps_the_other_links_datagrams_out),
        T(another_group_and_unicast_on_the_port_are_never_delivered),
        T(ready_subscriptions_take_turns),
        T(a_batch_receives_everything_queued_with_metadata),
        T(a_datagram_larger_than_its_slot_is_truncated_never_silently),
#undef T
    };
    return wt_main(argc, argv, tests, sizeof tests / sizeof tests[0], 42000);
}
