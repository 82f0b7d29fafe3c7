/* Windows, under wine: the Rust crate's C ABI (<mcrx_core_ffi.h>): poll with
 * packet views, and the background receiver (Windows threads, a loopback
 * UDP socket as its wake-up). This program never calls WSAStartup: programs
 * written for the crate do not, the library starts Winsock itself. */
#include <mcrx/mcrx.h>

#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "wt.h"

typedef struct seen {
    SRWLOCK lock;
    int count;
    DWORD thread;
    uint64_t ids[16];
    char payload[16][32];
    char source[64], group[64], local[64], dest[64];
    uint16_t dst_port;
    uint32_t ingress;
    int has_ingress, has_conf_index;
    const char *conf_ip;
    mcrx_context *ctx; /* for callbacks that call back in */
    int action;
    int inner_status, inner_kind;
} seen;

static void seen_init(seen *s) {
    memset(s, 0, sizeof *s);
    InitializeSRWLock(&s->lock);
}

static void copy(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "(null)");
}

enum { ACT_NONE, ACT_POLL_AGAIN, ACT_STOP };

static void on_packet(const McrxPacketView *p, void *user) {
    seen *s = user;
    AcquireSRWLockExclusive(&s->lock);
    if (s->count < 16) {
        s->ids[s->count] = p->subscription_id;
        snprintf(s->payload[s->count], sizeof s->payload[0], "%.*s", (int)p->payload_len,
                 (const char *)p->payload);
    }
    s->count++;
    s->thread = GetCurrentThreadId();
    copy(s->source, sizeof s->source, p->source_ip);
    copy(s->group, sizeof s->group, p->group_ip);
    copy(s->local, sizeof s->local, p->socket_local_ip);
    copy(s->dest, sizeof s->dest, p->destination_local_ip);
    s->dst_port = p->dst_port;
    s->ingress = p->ingress_interface_index;
    s->has_ingress = p->has_ingress_interface_index;
    s->has_conf_index = p->has_configured_interface_index;
    s->conf_ip = p->configured_interface_ip;
    ReleaseSRWLockExclusive(&s->lock);
    if (s->action == ACT_POLL_AGAIN) {
        size_t got;
        s->inner_status = mcrx_context_poll(s->ctx, 1, on_packet, s, &got);
        s->inner_kind = mcrx_context_last_error_code(s->ctx);
    } else if (s->action == ACT_STOP) {
        s->inner_status = mcrx_context_stop(s->ctx);
    }
}

static int count_of(seen *s) {
    int n;
    AcquireSRWLockShared(&s->lock);
    n = s->count;
    ReleaseSRWLockShared(&s->lock);
    return n;
}

/* Until the callback has seen n datagrams, or the deadline. */
static int wait_count(seen *s, int n, int ms) {
    long long end = wt_now_ms() + ms;
    while (count_of(s) < n && wt_now_ms() < end)
        Sleep(5);
    return count_of(s);
}

/* Polls until n datagrams were delivered (waiting with mcrx_context_wait). */
static size_t poll_until(mcrx_context *ctx, seen *s, size_t n) {
    long long end = wt_now_ms() + WT_WAIT_MS;
    size_t total = 0, got = 0;
    while (total < n && wt_now_ms() < end) {
        int ready = 0;
        WT_OK(ctx, mcrx_context_poll(ctx, 16, on_packet, s, &got));
        total += got;
        if (got == 0)
            WT_OK(ctx, mcrx_context_wait(ctx, 100, &ready));
    }
    return total;
}

static void poll_hands_out_packet_views_with_text_addresses(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id;
    seen s;
    size_t got = 9;
    seen_init(&s);
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.4.0.1", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_OK(ctx, mcrx_context_poll(ctx, 8, on_packet, &s, &got));
    WT_EQ_INT(got, 0);
    wt_send(S_V4, "239.4.0.1", port, "polled", 3);
    WT_EQ_INT(poll_until(ctx, &s, 3), 3);
    WT_EQ_INT(s.count, 3);
    WT_EQ_STR(s.payload[2], "polled");
    WT_EQ_INT(s.ids[0], id);
    WT_EQ_INT(s.thread, GetCurrentThreadId());
    WT_EQ_STR(s.source, S_V4);
    WT_EQ_STR(s.group, "239.4.0.1");
    WT_EQ_INT(s.dst_port, port);
    WT_EQ_STR(s.local, "0.0.0.0");
    WT_EQ_STR(s.dest, "239.4.0.1");
    WT_EQ_INT(s.has_ingress, 1);
    WT_EQ_INT(s.ingress, wt_ifindex());
    WT_EQ_INT(s.has_conf_index, 0);
    WT_CHECK(s.conf_ip == NULL);
    mcrx_context_free(ctx);
}

static void ipv6_poll_reports_the_configured_interface_index(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    char idx[16];
    uint64_t id;
    seen s;
    seen_init(&s);
    snprintf(idx, sizeof idx, "%u", wt_ifindex());
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "ff0e::8000:402", port, NULL, idx, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    wt_send(S_V6, "ff0e::8000:402", port, "polled6", 1);
    WT_EQ_INT(poll_until(ctx, &s, 1), 1);
    WT_EQ_STR(s.source, S_V6);
    WT_EQ_STR(s.dest, "ff0e::8000:402");
    WT_EQ_STR(s.local, "::");
    WT_EQ_INT(s.has_conf_index, 1);
    WT_EQ_INT(s.ingress, wt_ifindex());
    mcrx_context_free(ctx);
}

static void a_poll_from_inside_a_poll_callback_is_busy(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id;
    seen s;
    seen_init(&s);
    s.ctx = ctx;
    s.action = ACT_POLL_AGAIN;
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.4.0.3", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    wt_send(S_V4, "239.4.0.3", port, "nested", 2);
    WT_EQ_INT(poll_until(ctx, &s, 2), 2);
    WT_EQ_INT(s.inner_status, MCRX_STATUS_ERROR);
    WT_EQ_INT(s.inner_kind, MCRX_ERROR_BUSY);
    mcrx_context_free(ctx);
}

static void the_background_receiver_delivers_on_its_own_thread(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id;
    seen s;
    seen_init(&s);
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.4.0.4", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_OK(ctx, mcrx_context_start(ctx, on_packet, &s, 10));
    WT_FAILS(ctx, MCRX_STATUS_ALREADY_RUNNING, MCRX_ERROR_ALREADY_RUNNING,
             mcrx_context_start(ctx, on_packet, &s, 10));
    wt_send(S_V4, "239.4.0.4", port, "background", 5);
    WT_EQ_INT(wait_count(&s, 5, WT_WAIT_MS), 5);
    WT_OK(ctx, mcrx_context_stop(ctx));
    WT_OK(ctx, mcrx_context_stop(ctx)); /* none running: not an error */
    WT_NE_INT(s.thread, GetCurrentThreadId());
    WT_EQ_STR(s.payload[4], "background");
    WT_EQ_STR(s.dest, "239.4.0.4");
    /* Stopped: what arrives now waits for the next receive. */
    wt_send(S_V4, "239.4.0.4", port, "after", 1);
    wt_settle();
    WT_EQ_INT(count_of(&s), 5);
    WT_EQ_INT(poll_until(ctx, &s, 1), 1);
    WT_EQ_STR(s.payload[5], "after");
    mcrx_context_free(ctx);
}

/* The receiver sleeps in WSAPoll until a socket is readable; stop wakes it
 * through its loopback socket at once, not at some timeout. */
static void stop_ends_an_idle_receiver_promptly(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint64_t id;
    long long t0, took;
    seen s;
    int round;
    seen_init(&s);
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.4.0.5", wt_port(), NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    for (round = 0; round < 3; round++) {
        WT_OK(ctx, mcrx_context_start(ctx, on_packet, &s, 10000));
        Sleep(150); /* into its wait */
        t0 = wt_now_ms();
        WT_OK(ctx, mcrx_context_stop(ctx));
        took = wt_now_ms() - t0;
        WT_LE_INT(took, 250);
    }
    /* And with nothing joined at all. */
    WT_OK(ctx, mcrx_context_leave_subscription(ctx, id));
    WT_OK(ctx, mcrx_context_start(ctx, on_packet, &s, 10000));
    Sleep(150);
    t0 = wt_now_ms();
    WT_OK(ctx, mcrx_context_stop(ctx));
    WT_LE_INT(wt_now_ms() - t0, 250);
    WT_EQ_INT(count_of(&s), 0);
    mcrx_context_free(ctx);
}

/* A subscription joined while the receiver sleeps is watched from then on:
 * its datagrams arrive without anything else waking the receiver. */
static void a_subscription_joined_while_the_receiver_idles_is_received(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id;
    seen s;
    seen_init(&s);
    WT_OK(ctx, mcrx_context_start(ctx, on_packet, &s, 10));
    Sleep(150);
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.4.0.6", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    wt_send(S_V4, "239.4.0.6", port, "late-join", 1);
    WT_EQ_INT(wait_count(&s, 1, WT_WAIT_MS), 1);
    WT_EQ_STR(s.payload[0], "late-join");
    /* Removed while it idles: no stale socket in its wait. */
    WT_OK(ctx, mcrx_context_remove_subscription(ctx, id));
    Sleep(100);
    WT_OK(ctx, mcrx_context_stop(ctx));
    mcrx_context_free(ctx);
}

static void stop_from_inside_the_callback_ends_the_receiver(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id;
    seen s;
    seen_init(&s);
    s.ctx = ctx;
    s.action = ACT_STOP;
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.4.0.7", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_OK(ctx, mcrx_context_start(ctx, on_packet, &s, 10));
    wt_send(S_V4, "239.4.0.7", port, "stop-me", 3);
    WT_EQ_INT(wait_count(&s, 1, WT_WAIT_MS), 1);
    wt_settle();
    WT_EQ_INT(s.inner_status, MCRX_STATUS_OK);
    WT_EQ_INT(count_of(&s), 1);
    /* Started again after a stop from the callback: the old thread is joined. */
    s.action = ACT_NONE;
    WT_OK(ctx, mcrx_context_start(ctx, on_packet, &s, 10));
    WT_EQ_INT(wait_count(&s, 3, WT_WAIT_MS), 3);
    mcrx_context_free(ctx); /* stops the running receiver itself */
}

int main(int argc, char **argv) {
    static const wt_test tests[] = {
#define T(f) {#f, f}
        T(poll_hands_out_packet_views_with_text_addresses),
        T(ipv6_poll_reports_the_configured_interface_index),
        T(a_poll_from_inside_a_poll_callback_is_busy),
        T(the_background_receiver_delivers_on_its_own_thread),
        T(stop_ends_an_idle_receiver_promptly),
        T(a_subscription_joined_while_the_receiver_idles_is_received),
        T(stop_from_inside_the_callback_ends_the_receiver),
#undef T
    };
    return wt_main(argc, argv, tests, sizeof tests / sizeof tests[0], 44000);
}
