/*
 * Delivery and isolation across a veth link: a sender host and a receiver host
 * (scripts/netns-run.sh). Every wait is bounded by TH_WAIT_MS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define BUF 2048

static void assert_ip(const mcrx_ip *ip, const char *text) {
    char got[MCRX_IP_STRLEN];
    mcrx_ip plain = *ip;
    plain.scope_id = 0;
    assert_true(mcrx_ip_format(&plain, got, sizeof got) > 0);
    assert_string_equal(got, text);
}

/* Receives one datagram and checks its payload text. */
static void expect(mcrx_context *ctx, const char *payload, mcrx_datagram *dg) {
    assert_true(th_ctx_recv_wait(ctx, dg, TH_WAIT_MS));
    assert_int_equal(dg->len, strlen(payload));
    assert_memory_equal(dg->buf, payload, dg->len);
}

static void expect_nothing(mcrx_context *ctx) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    size_t got = 99;
    th_settle();
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), MCRX_STATUS_OK);
    if (got != 0)
        fail_msg("unexpected datagram '%.*s' on subscription %llu", (int)dg.len, (char *)dg.buf,
                 (unsigned long long)dg.subscription_id);
}

/* Delivery of one family/mode with full metadata checks. */
static void delivered(const char *group, const char *source, const char *iface,
                      const char *sender_addr, const char *dst) {
    unsigned char buf[BUF];
    mcrx_metadata meta;
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    uint64_t id = th_add_join(ctx, group, port, source, iface);
    int s = th_sender(sender_addr, "va");

    th_send_str(s, dst ? dst : group, port, "hello");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &meta;
    expect(ctx, "hello", &dg);
    assert_int_equal(dg.subscription_id, id);
    assert_ip(&dg.source, sender_addr);
    assert_int_not_equal(dg.source_port, 0);
    assert_ip(&dg.group, group);
    assert_int_equal(dg.dst_port, port);
    assert_int_equal(dg.flags, 0);
    assert_true(meta.valid & MCRX_META_DESTINATION);
    assert_ip(&meta.destination_local_ip, group);
    assert_true(meta.valid & MCRX_META_INGRESS_IF);
    assert_int_equal(meta.ingress_interface_index, th_rx_ifindex("vb"));
    assert_int_equal(meta.socket_local_port, port);
    close(s);
    mcrx_context_free(ctx);
}

static void ipv4_asm_is_delivered_across_the_link(void **state) {
    (void)state;
    delivered("239.1.2.3", NULL, NULL, S_V4, NULL);
}

static void ipv4_ssm_is_delivered_across_the_link(void **state) {
    (void)state;
    delivered("232.1.2.3", S_V4, R_V4, S_V4, NULL);
}

static void ipv6_asm_is_delivered_across_the_link(void **state) {
    (void)state;
    delivered("ff0e::8000:1", NULL, R_V6, S_V6, NULL);
}

static void ipv6_ssm_is_delivered_across_the_link(void **state) {
    (void)state;
    delivered("ff3e::8000:1234", S_V6, R_V6, S_V6, NULL);
}

static void ipv6_link_scope_ssm_with_an_interface_index(void **state) {
    char ll[64], iface[16], dst[64];
    (void)state;
    th_sender_linklocal("va", ll, sizeof ll);
    snprintf(iface, sizeof iface, "%u", th_rx_ifindex("vb"));
    snprintf(dst, sizeof dst, "ff32::8000:1%%va");
    delivered("ff32::8000:1", ll, iface, ll, dst);
}

/* The configured metadata fields and the socket's bound address. */
static void metadata_reports_config_and_bound_address(void **state) {
    unsigned char buf[BUF];
    mcrx_metadata meta;
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port(), lport = 0;
    char iface[32];
    uint64_t id;
    mcrx_ip local;
    int s = th_sender(S_V6, "va");
    (void)state;
    snprintf(iface, sizeof iface, "%s", R_V6);
    id = th_add_join(ctx, "ff3e::8000:99", port, S_V6, iface);
    assert_int_equal(mcrx_subscription_local_addr(mcrx_context_get_subscription(ctx, id), &local,
                                                  &lport),
                     0);
    assert_ip(&local, "ff3e::8000:99");
    assert_int_equal(lport, port);
    th_send_str(s, "ff3e::8000:99", port, "m");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &meta;
    expect(ctx, "m", &dg);
    assert_ip(&meta.configured_interface, R_V6);
    assert_int_equal(meta.configured_interface_index, 0);
    assert_ip(&meta.socket_local_ip, "ff3e::8000:99");
    close(s);
    mcrx_context_free(ctx);
}

/* SSM: another sender to the same group and port is never delivered. */
static void ssm_never_delivers_another_source(void **state) {
    const char *groups[2] = {"232.1.2.4", "ff3e::8000:4"};
    const char *good[2] = {S_V4, S_V6}, *bad[2] = {S_V4_OTHER, S_V6_OTHER};
    const char *iface[2] = {NULL, R_V6};
    int f;
    (void)state;
    for (f = 0; f < 2; f++) {
        unsigned char buf[BUF];
        mcrx_datagram dg;
        mcrx_context *ctx = mcrx_context_new();
        uint16_t port = th_port();
        int sg = th_sender(good[f], "va"), sb = th_sender(bad[f], "va");
        int i;
        th_add_join(ctx, groups[f], port, good[f], iface[f]);
        for (i = 0; i < 5; i++)
            th_send_str(sb, groups[f], port, "foreign");
        th_send_str(sg, groups[f], port, "mine");
        mcrx_datagram_init(&dg, buf, sizeof buf);
        expect(ctx, "mine", &dg);
        assert_ip(&dg.source, good[f]);
        expect_nothing(ctx);
        close(sg);
        close(sb);
        mcrx_context_free(ctx);
    }
}

/*
 * Cross traffic: another socket on the host joins another group on the same
 * port (IP_MULTICAST_ALL would leak it to wildcard sockets), and unicast is
 * sent to the port. Neither reaches the subscription; the foreign socket
 * proves the cross traffic really arrived.
 */
static void cross_traffic(int caller_socket) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), su = th_sender_plain(S_V4);
    int foreign = th_foreign_socket("0.0.0.0", port);
    uint64_t id;
    th_foreign_join(foreign, "239.1.2.11", 0);
    if (caller_socket) {
        mcrx_subscription_config cfg;
        int own = th_foreign_socket("0.0.0.0", port);
        mcrx_subscription_config_parse(&cfg, "239.1.2.10", port, NULL, NULL);
        assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, own, &id), 0);
        assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    } else {
        id = th_add_join(ctx, "239.1.2.10", port, NULL, NULL);
    }
    th_send_str(s, "239.1.2.11", port, "other-group");
    th_send_str(su, R_V4, port, "unicast");
    th_send_str(s, "239.1.2.10", port, "mine");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    expect(ctx, "mine", &dg);
    assert_int_equal(dg.subscription_id, id);
    expect_nothing(ctx);
    assert_true(th_readable(foreign, TH_WAIT_MS));
    assert_true(recv(foreign, buf, sizeof buf, 0) > 0);
    close(foreign);
    close(s);
    close(su);
    mcrx_context_free(ctx);
}

static void other_groups_and_unicast_on_the_port_never_arrive(void **state) {
    (void)state;
    cross_traffic(0);
}

static void a_wildcard_caller_socket_is_isolated_too(void **state) {
    (void)state;
    cross_traffic(1);
}

/*
 * With an interface index, the same group arriving on another link is not
 * ours. Our own socket is bound to the device (the kernel filters); a
 * caller's wildcard socket relies on the user-space ingress check.
 */
static void other_interface(int caller_socket) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s1 = th_sender(S_V6, "va"), s2 = th_sender(S_V6_L2, "va2");
    int foreign = th_foreign_socket("::", port);
    mcrx_subscription_config cfg;
    uint64_t id;
    th_foreign_join(foreign, "ff0e::8000:7", th_rx_ifindex("vb2"));
    mcrx_subscription_config_parse(&cfg, "ff0e::8000:7", port, NULL, NULL);
    cfg.interface_index = th_rx_ifindex("vb");
    if (caller_socket)
        assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, th_foreign_socket("::", port),
                                                      &id), 0);
    else
        assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    th_send_str(s2, "ff0e::8000:7", port, "link2");
    th_send_str(s1, "ff0e::8000:7", port, "link1");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    expect(ctx, "link1", &dg);
    expect_nothing(ctx);
    assert_true(th_readable(foreign, TH_WAIT_MS)); /* link 2 traffic did arrive on the host */
    close(foreign);
    close(s1);
    close(s2);
    mcrx_context_free(ctx);
}

static void another_interface_is_not_delivered(void **state) {
    (void)state;
    other_interface(0);
}

static void another_interface_is_not_delivered_to_a_caller_socket(void **state) {
    (void)state;
    other_interface(1);
}

/* The optional per-datagram reports: TTL, kernel timestamp, drop counter;
 * and a subscription without pktinfo still delivers, without those fields. */
static void receive_options_report_ttl_timestamp_and_drops(void **state) {
    unsigned char buf[BUF];
    mcrx_metadata meta;
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    struct timespec now;
    int64_t now_ns;
    uint64_t id;
    (void)state;
    mcrx_subscription_config_parse(&cfg, "239.1.2.80", port, NULL, NULL);
    cfg.rx_options = MCRX_RX_TTL | MCRX_RX_TIMESTAMP | MCRX_RX_DROPS;
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    th_send_str(s, "239.1.2.80", port, "opts");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &meta;
    expect(ctx, "opts", &dg);
    clock_gettime(CLOCK_REALTIME, &now);
    now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    assert_true(meta.valid & MCRX_META_TTL);
    assert_int_equal(meta.ttl, 1);
    assert_true(meta.valid & MCRX_META_TIMESTAMP);
    assert_true(meta.rx_timestamp_ns <= now_ns);
    assert_true(now_ns - meta.rx_timestamp_ns < 2000000000LL);
    assert_true(meta.valid & MCRX_META_DROPS);
    assert_int_equal(meta.kernel_drops, 0);
    /* pktinfo was not asked for: no destination or ingress, still isolated */
    assert_false(meta.valid & MCRX_META_DESTINATION);
    assert_false(meta.valid & MCRX_META_INGRESS_IF);
    close(s);
    mcrx_context_free(ctx);
}

/* Two receivers (and a foreign wildcard socket) share one port; each gets a copy. */
static void two_receivers_share_a_port(void **state) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    mcrx_context *a = mcrx_context_new(), *b = mcrx_context_new();
    uint16_t port = th_port();
    int foreign = th_foreign_socket("0.0.0.0", port);
    int s = th_sender(S_V4, "va");
    (void)state;
    th_add_join(a, "239.1.2.20", port, NULL, NULL);
    th_add_join(b, "239.1.2.20", port, NULL, NULL);
    th_send_str(s, "239.1.2.20", port, "both");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    expect(a, "both", &dg);
    expect(b, "both", &dg);
    close(foreign);
    close(s);
    mcrx_context_free(a);
    mcrx_context_free(b);
}

/* Packets A1, B1, A2 from two ready subscriptions arrive as A1, B1, A2. */
static void context_receive_takes_turns(void **state) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    uint64_t a, b;
    (void)state;
    a = th_add_join(ctx, "239.1.2.30", port, NULL, NULL);
    b = th_add_join(ctx, "239.1.2.31", port + 100, NULL, NULL);
    th_send_str(s, "239.1.2.30", port, "A1");
    th_send_str(s, "239.1.2.31", port + 100, "B1");
    th_send_str(s, "239.1.2.30", port, "A2");
    th_settle();
    mcrx_datagram_init(&dg, buf, sizeof buf);
    expect(ctx, "A1", &dg);
    assert_int_equal(dg.subscription_id, a);
    expect(ctx, "B1", &dg);
    assert_int_equal(dg.subscription_id, b);
    expect(ctx, "A2", &dg);
    assert_int_equal(dg.subscription_id, a);
    expect_nothing(ctx);
    close(s);
    mcrx_context_free(ctx);
}

/* Bounded batches, then draining everything that is queued. */
static void batches_respect_their_bound_and_drain(void **state) {
    static unsigned char arena[300 * 64];
    mcrx_datagram dgs[300];
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    size_t got = 0, total = 0, i;
    int seen[250];
    (void)state;
    th_add_join(ctx, "239.1.2.40", port, NULL, NULL);
    th_add_join(ctx, "239.1.2.41", port, NULL, NULL);
    for (i = 0; i < 10; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "%zu", i);
        th_send_str(s, i % 2 ? "239.1.2.41" : "239.1.2.40", port, msg);
    }
    th_settle();
    mcrx_datagrams_init(dgs, 4, arena, 64, NULL);
    assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 4, &got), 0);
    assert_int_equal(got, 4);
    assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 0, &got), 0);
    assert_int_equal(got, 0);
    mcrx_datagrams_init(dgs, 300, arena, 64, NULL);
    assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 300, &got), 0);
    assert_int_equal(got, 6);
    assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 300, &got), 0);
    assert_int_equal(got, 0);

    /* 250 datagrams: several recvmmsg chunks; each arrives exactly once. */
    memset(seen, 0, sizeof seen);
    for (i = 0; i < 250; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "%zu", i);
        th_send_str(s, i % 3 ? "239.1.2.41" : "239.1.2.40", port, msg);
    }
    th_settle();
    while (total < 250) {
        assert_true(th_readable(mcrx_context_fd(ctx), TH_WAIT_MS));
        mcrx_datagrams_init(dgs, 300, arena, 64, NULL);
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 300, &got), 0);
        for (i = 0; i < got; i++) {
            char msg[16];
            int v;
            snprintf(msg, sizeof msg, "%.*s", (int)dgs[i].len, (char *)dgs[i].buf);
            v = atoi(msg);
            assert_in_range(v, 0, 249);
            assert_int_equal(seen[v], 0);
            seen[v] = 1;
        }
        total += got;
    }
    assert_int_equal(total, 250);
    expect_nothing(ctx);
    close(s);
    mcrx_context_free(ctx);
}

/* A subscription's own batch receive. */
static void subscription_batch_receive(void **state) {
    static unsigned char arena[16 * 64];
    mcrx_datagram dgs[16];
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    uint64_t id;
    size_t got = 0;
    int i;
    (void)state;
    id = th_add_join(ctx, "239.1.2.42", port, NULL, NULL);
    for (i = 0; i < 5; i++)
        th_send_str(s, "239.1.2.42", port, "x");
    th_settle();
    mcrx_datagrams_init(dgs, 16, arena, 64, NULL);
    assert_int_equal(
        mcrx_subscription_recv_batch(mcrx_context_get_subscription(ctx, id), dgs, 3, &got), 0);
    assert_int_equal(got, 3);
    assert_int_equal(
        mcrx_subscription_recv_batch(mcrx_context_get_subscription(ctx, id), dgs, 16, &got), 0);
    assert_int_equal(got, 2);
    close(s);
    mcrx_context_free(ctx);
}

/* A taken subscription stays joined and keeps receiving in its new owner. */
static void taken_subscription_keeps_receiving(void **state) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription *sub = NULL;
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    uint64_t id;
    mcrx_sock fd;
    (void)state;
    id = th_add_join(ctx, "232.1.2.50", port, S_V4, NULL);
    assert_int_equal(mcrx_context_take_subscription(ctx, id, &sub), 0);
    assert_non_null(sub);
    assert_int_equal(mcrx_context_subscription_count(ctx), 0);
    assert_int_equal(mcrx_subscription_state(sub), MCRX_STATE_JOINED);
    assert_int_equal(mcrx_subscription_id(sub), id);
    th_send_str(s, "232.1.2.50", port, "after-take");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_true(th_sub_recv_wait(sub, &dg, TH_WAIT_MS));
    assert_int_equal(dg.len, 10);
    assert_int_equal(dg.subscription_id, id);
    expect_nothing(ctx); /* the context no longer sees it */
    /* its owner can leave and join again */
    assert_int_equal(mcrx_subscription_leave_group(sub), 0);
    assert_int_equal(mcrx_subscription_leave_group(sub), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_subscription_last_error_code(sub), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    assert_int_equal(mcrx_subscription_join_group(sub), 0);
    if (strcmp(mcrx_context_backend(ctx), "io_uring") == 0) {
        /* The ring drains the socket: it is not handed back. */
        assert_int_equal(mcrx_subscription_into_sock(sub), MCRX_SOCK_INVALID);
        assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NOT_SUPPORTED);
        mcrx_subscription_free(sub);
        close(s);
        mcrx_context_free(ctx);
        return;
    }
    fd = mcrx_subscription_into_sock(sub);
    assert_true(fd >= 0);
    th_send_str(s, "232.1.2.50", port, "raw");
    assert_true(th_readable(fd, TH_WAIT_MS)); /* still joined as a bare socket */
    close((int)fd);
    close(s);
    mcrx_context_free(ctx);
}

/* A datagram larger than the slot is flagged, never silently cut. */
static void truncation_is_reported(void **state) {
    unsigned char buf[10], payload[100];
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    (void)state;
    memset(payload, 'z', sizeof payload);
    th_add_join(ctx, "239.1.2.60", port, NULL, NULL);
    th_send(s, "239.1.2.60", port, payload, sizeof payload);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_true(th_ctx_recv_wait(ctx, &dg, TH_WAIT_MS));
    assert_int_equal(dg.len, 10);
    assert_int_equal(dg.wire_len, 100);
    assert_true(dg.flags & MCRX_DATAGRAM_TRUNCATED);
    close(s);
    mcrx_context_free(ctx);
}

/* Bound subscriptions are skipped by the context and refused on their own;
 * after a leave nothing more arrives. */
static void bound_and_left_subscriptions_receive_nothing(void **state) {
    unsigned char buf[BUF];
    mcrx_datagram dg;
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    uint64_t id;
    size_t got = 9;
    (void)state;
    assert_int_equal(mcrx_context_add_subscription(ctx, "239.1.2.70", port, NULL, NULL, &id), 0);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(mcrx_subscription_recv(mcrx_context_get_subscription(ctx, id), &dg, &got),
                     MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_subscription_last_error_code(mcrx_context_get_subscription(ctx, id)),
                     MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    th_send_str(s, "239.1.2.70", port, "before-join");
    expect_nothing(ctx);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    th_send_str(s, "239.1.2.70", port, "joined");
    expect(ctx, "joined", &dg);
    assert_int_equal(mcrx_context_leave_subscription(ctx, id), 0);
    th_send_str(s, "239.1.2.70", port, "after-leave");
    expect_nothing(ctx);
    assert_int_equal(mcrx_context_remove_subscription(ctx, id), 0);
    expect_nothing(ctx);
    close(s);
    mcrx_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_asm_is_delivered_across_the_link),
        cmocka_unit_test(ipv4_ssm_is_delivered_across_the_link),
        cmocka_unit_test(ipv6_asm_is_delivered_across_the_link),
        cmocka_unit_test(ipv6_ssm_is_delivered_across_the_link),
        cmocka_unit_test(ipv6_link_scope_ssm_with_an_interface_index),
        cmocka_unit_test(metadata_reports_config_and_bound_address),
        cmocka_unit_test(ssm_never_delivers_another_source),
        cmocka_unit_test(other_groups_and_unicast_on_the_port_never_arrive),
        cmocka_unit_test(a_wildcard_caller_socket_is_isolated_too),
        cmocka_unit_test(another_interface_is_not_delivered),
        cmocka_unit_test(another_interface_is_not_delivered_to_a_caller_socket),
        cmocka_unit_test(receive_options_report_ttl_timestamp_and_drops),
        cmocka_unit_test(two_receivers_share_a_port),
        cmocka_unit_test(context_receive_takes_turns),
        cmocka_unit_test(batches_respect_their_bound_and_drain),
        cmocka_unit_test(subscription_batch_receive),
        cmocka_unit_test(taken_subscription_keeps_receiving),
        cmocka_unit_test(truncation_is_reported),
        cmocka_unit_test(bound_and_left_subscriptions_receive_nothing),
    };
    th_init();
    return cmocka_run_group_tests_name("delivery", tests, NULL, NULL);
}
