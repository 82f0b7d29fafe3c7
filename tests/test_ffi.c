/* The Rust crate's C ABI (<mcrx_core_ffi.h>): statuses, messages, poll, and
 * the background receiver. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mcrx_core_ffi.h>

#include "harness.h"

typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
    int in_callback;
    int overlapped;
    char last_payload[64];
    char source[64], group[64], local[64], dest[64];
    uint16_t dst_port, local_port;
    int has_ingress;
    McrxContext *ctx;
    int restart_at;
    int second_count;
} seen;

static void seen_init(seen *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void copy(char *dst, const char *src) {
    snprintf(dst, 64, "%s", src ? src : "(null)");
}

static void on_packet(const McrxPacketView *p, void *user) {
    seen *s = user;
    pthread_mutex_lock(&s->mu);
    if (s->in_callback)
        s->overlapped = 1;
    s->in_callback = 1;
    s->count++;
    snprintf(s->last_payload, sizeof s->last_payload, "%.*s", (int)p->payload_len,
             (const char *)p->payload);
    copy(s->source, p->source_ip);
    copy(s->group, p->group_ip);
    copy(s->local, p->socket_local_ip);
    copy(s->dest, p->destination_local_ip);
    s->dst_port = p->dst_port;
    s->local_port = p->socket_local_port;
    s->has_ingress = p->has_ingress_interface_index;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->mu);
    s->in_callback = 0;
    pthread_mutex_unlock(&s->mu);
}

static int wait_count(seen *s, int *counter, int want, int ms) {
    struct timespec end;
    int ok;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (*counter < want)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &end) != 0)
            break;
    ok = *counter >= want;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void statuses_and_messages(void **state) {
    McrxContext *ctx = mcrx_context_new();
    uint64_t id = 0;
    size_t got = 7;
    (void)state;
    assert_true(strlen(mcrx_ffi_version()) > 0);
    assert_int_equal(mcrx_context_add_subscription(ctx, "127.0.0.1", 5000, NULL, NULL, &id),
                     MCRX_STATUS_ERROR);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "multicast"));
    assert_int_equal(mcrx_context_add_subscription(ctx, "not-an-ip", 5000, NULL, NULL, &id),
                     MCRX_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "invalid group IP address"));
    assert_int_equal(mcrx_context_add_subscription(ctx, NULL, 5000, NULL, NULL, &id),
                     MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_add_subscription(ctx, "239.1.1.1", 5000, NULL, NULL, NULL),
                     MCRX_STATUS_INVALID_ARGUMENT);
    /* as in the Rust ABI: a scope of 0 does not parse (1), a bare index 0
     * fails validation (2) */
    assert_int_equal(mcrx_context_add_subscription(ctx, "ff0e::1", 5000, NULL, "fe80::1%0", &id),
                     MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_add_subscription(ctx, "ff0e::1", 5000, NULL, "0", &id),
                     MCRX_STATUS_ERROR);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "interface index must be greater than 0"));
    assert_int_equal(mcrx_context_add_subscription(ctx, "ff0e::1", 5000, NULL, "bogus%if", &id),
                     MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_remove_subscription(ctx, 42), MCRX_STATUS_ERROR);
    assert_string_equal(mcrx_context_last_error(ctx), "MCRX: subscription not found: id 42");
    assert_int_equal(mcrx_context_poll(ctx, 0, NULL, NULL, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_context_poll(ctx, 1, NULL, NULL, &got), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_poll(ctx, 1, on_packet, NULL, NULL),
                     MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_subscription_count(NULL), 0);
    assert_int_equal(mcrx_context_join_subscription(NULL, 1), MCRX_STATUS_INVALID_ARGUMENT);
    assert_true(strlen(mcrx_last_error()) > 0);
    assert_int_equal(mcrx_context_start(ctx, NULL, NULL, 0), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK); /* nothing running */
    mcrx_context_free(ctx);
}

static void poll_delivers_with_text_addresses(void **state) {
    McrxContext *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    seen sn;
    size_t got = 0;
    uint64_t id;
    (void)state;
    seen_init(&sn);
    id = th_add_join(ctx, "232.5.0.1", port, S_V4, R_V4);
    assert_int_equal(id, 1);
    th_send_str(s, "232.5.0.1", port, "poll-me");
    assert_true(th_readable(mcrx_context_fd(ctx), TH_WAIT_MS));
    assert_int_equal(mcrx_context_poll(ctx, 8, on_packet, &sn, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 1);
    assert_string_equal(sn.last_payload, "poll-me");
    assert_string_equal(sn.source, S_V4);
    assert_string_equal(sn.group, "232.5.0.1");
    assert_int_equal(sn.dst_port, port);
    assert_string_equal(sn.local, "232.5.0.1");
    assert_int_equal(sn.local_port, port);
    assert_string_equal(sn.dest, "232.5.0.1");
    assert_true(sn.has_ingress);
    assert_int_equal(mcrx_context_poll(ctx, 8, on_packet, &sn, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 0);
    close(s);
    mcrx_context_free(ctx);
}

static void background_receiver_delivers_and_refuses_a_second_start(void **state) {
    McrxContext *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V6, "va"), i;
    seen sn;
    (void)state;
    seen_init(&sn);
    th_add_join(ctx, "ff3e::8000:55", port, S_V6, R_V6);
    assert_int_equal(mcrx_context_start(ctx, on_packet, &sn, 0), MCRX_STATUS_OK);
    assert_int_equal(mcrx_context_start(ctx, on_packet, &sn, 0), MCRX_STATUS_ALREADY_RUNNING);
    for (i = 0; i < 3; i++)
        th_send_str(s, "ff3e::8000:55", port, "bg");
    assert_true(wait_count(&sn, &sn.count, 3, TH_WAIT_MS));
    /* calls from other threads are serialised with the receiver */
    th_add_join(ctx, "ff3e::8000:56", port, S_V6, R_V6);
    th_send_str(s, "ff3e::8000:56", port, "second");
    assert_true(wait_count(&sn, &sn.count, 4, TH_WAIT_MS));
    assert_string_equal(sn.last_payload, "second");
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_false(sn.overlapped);
    close(s);
    mcrx_context_free(ctx);
}

static void stop_returns_promptly_without_traffic(void **state) {
    McrxContext *ctx = mcrx_context_new();
    seen sn;
    long long t0, dt;
    (void)state;
    seen_init(&sn);
    th_add_join(ctx, "239.5.0.2", th_port(), NULL, NULL);
    /* a huge idle sleep is ignored: the receiver waits on readiness */
    assert_int_equal(mcrx_context_start(ctx, on_packet, &sn, 60000), MCRX_STATUS_OK);
    th_settle();
    t0 = th_now_ms();
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    dt = th_now_ms() - t0;
    assert_true(dt < 1000);
    /* and it can be started again */
    assert_int_equal(mcrx_context_start(ctx, on_packet, &sn, 0), MCRX_STATUS_OK);
    mcrx_context_free(ctx); /* stops it */
}

static void on_restart(const McrxPacketView *p, void *user);

static void on_second(const McrxPacketView *p, void *user) {
    seen *s = user;
    (void)p;
    pthread_mutex_lock(&s->mu);
    s->second_count++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* stop then start from inside the callback: the new callback takes over
 * without two receivers running at once. */
static void on_restart(const McrxPacketView *p, void *user) {
    seen *s = user;
    on_packet(p, user);
    if (s->count == s->restart_at) {
        assert_int_equal(mcrx_context_stop(s->ctx), MCRX_STATUS_OK);
        assert_int_equal(mcrx_context_start(s->ctx, on_second, s, 0), MCRX_STATUS_OK);
    }
}

static void stop_and_start_from_inside_the_callback(void **state) {
    McrxContext *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), i;
    seen sn;
    (void)state;
    seen_init(&sn);
    sn.ctx = ctx;
    sn.restart_at = 2;
    th_add_join(ctx, "239.5.0.3", port, NULL, NULL);
    assert_int_equal(mcrx_context_start(ctx, on_restart, &sn, 0), MCRX_STATUS_OK);
    for (i = 0; i < 2; i++)
        th_send_str(s, "239.5.0.3", port, "first");
    assert_true(wait_count(&sn, &sn.count, 2, TH_WAIT_MS));
    for (i = 0; i < 3; i++)
        th_send_str(s, "239.5.0.3", port, "second");
    assert_true(wait_count(&sn, &sn.second_count, 3, TH_WAIT_MS));
    assert_int_equal(sn.count, 2);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    close(s);
    mcrx_context_free(ctx);
}

/* The callback may remove its own subscription while poll runs. */
static void on_remove(const McrxPacketView *p, void *user) {
    seen *s = user;
    on_packet(p, user);
    assert_int_equal(mcrx_context_remove_subscription(s->ctx, p->subscription_id), 0);
}

static void callbacks_may_call_back_into_the_context(void **state) {
    McrxContext *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), i;
    seen sn;
    size_t got = 0;
    (void)state;
    seen_init(&sn);
    sn.ctx = ctx;
    th_add_join(ctx, "239.5.0.4", port, NULL, NULL);
    for (i = 0; i < 3; i++)
        th_send_str(s, "239.5.0.4", port, "x");
    assert_true(th_readable(mcrx_context_fd(ctx), TH_WAIT_MS));
    th_settle();
    assert_int_equal(mcrx_context_poll(ctx, 8, on_remove, &sn, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 1); /* removed after the first: the rest went with its socket */
    assert_int_equal(mcrx_context_subscription_count(ctx), 0);
    close(s);
    mcrx_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses_and_messages),
        cmocka_unit_test(poll_delivers_with_text_addresses),
        cmocka_unit_test(background_receiver_delivers_and_refuses_a_second_start),
        cmocka_unit_test(stop_returns_promptly_without_traffic),
        cmocka_unit_test(stop_and_start_from_inside_the_callback),
        cmocka_unit_test(callbacks_may_call_back_into_the_context),
    };
    th_init();
    return cmocka_run_group_tests_name("ffi", tests, NULL, NULL);
}
