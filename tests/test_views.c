/*
 * The C ABI's batched delivery (mcrx_context_poll and the background
 * receiver) on the in-memory backend of fake_backend.h: one fair batch
 * receive, then a callback per datagram with its texts; a subscription that
 * leaves or is removed from inside a callback takes its undelivered datagrams
 * with it and out of the counts; a stop from inside the callback ends the
 * deliveries there and the next receiver delivers the rest.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fake_backend.h"
#include "internal.h"
#include "mcrx_core_ffi.h"

static mcrx_ip ip(const char *text) {
    mcrx_ip a;
    assert_int_equal(mcrx_ip_parse(text, &a), MCRX_ERROR_NONE);
    return a;
}

static mcrx_context *fake_context(void) {
    mcrx_context *ctx;
    fake_open_defaults();
    ctx = mcrx__context_new_with(&fake_backend, 0);
    assert_non_null(ctx);
    return ctx;
}

static mcrx_subscription *add_join(mcrx_context *ctx, const char *group) {
    mcrx_subscription_config cfg;
    uint64_t id;
    mcrx_subscription_config_init(&cfg);
    cfg.group = ip(group);
    cfg.dst_port = 5000;
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    return mcrx_context_get_subscription(ctx, id);
}

static void push(mcrx_subscription *sub, const char *text, const char *src) {
    fake_dgram d;
    memset(&d, 0, sizeof d);
    d.payload = text;
    d.wire_len = strlen(text);
    d.source = ip(src);
    d.source_port = 4000;
    d.info.dst = sub->cfg.group;
    d.info.valid = MCRX_META_DESTINATION;
    fake_push(sub, &d);
}

static uint64_t total_packets(mcrx_context *ctx) {
    mcrx_context_metrics m;
    assert_int_equal(mcrx_context_metrics_get(ctx, &m), 0);
    return m.total_packets_received;
}

static uint64_t sub_packets(mcrx_subscription *sub) {
    mcrx_subscription_metrics m;
    assert_int_equal(mcrx_subscription_metrics_get(sub, &m), 0);
    return m.packets_received;
}

/* What the callbacks saw, and what they do. */
typedef struct seen {
    mcrx_context *ctx;
    char text[16][32], group[16][32], source[16][32], dest[16][32];
    size_t n;
    uint64_t remove_at_first_of;   /* remove this id on its first datagram (0: none) */
    uint64_t leave_on_first;       /* leave this id on the first datagram (0: none) */
    int stop_at;                   /* stop from inside at this count (0: never) */
    char group_after_remove[32];   /* the view's group text read after the removal */
    pthread_mutex_t mu;
} seen;

static void copy_text(char *to, const char *from, size_t len) {
    if (from == NULL) {
        strcpy(to, "(null)");
        return;
    }
    memcpy(to, from, len);
    to[len] = '\0';
}

static void on_view(const McrxPacketView *p, void *user) {
    seen *s = user;
    size_t i;
    pthread_mutex_lock(&s->mu);
    i = s->n++;
    pthread_mutex_unlock(&s->mu);
    assert_true(i < 16);
    copy_text(s->text[i], (const char *)p->payload, p->payload_len);
    copy_text(s->group[i], p->group_ip, p->group_ip ? strlen(p->group_ip) : 0);
    copy_text(s->source[i], p->source_ip, p->source_ip ? strlen(p->source_ip) : 0);
    copy_text(s->dest[i], p->destination_local_ip,
              p->destination_local_ip ? strlen(p->destination_local_ip) : 0);
    if (s->leave_on_first != 0 && i == 0)
        assert_int_equal(mcrx_context_leave_subscription(s->ctx, s->leave_on_first), 0);
    if (s->remove_at_first_of != 0 && p->subscription_id == s->remove_at_first_of) {
        assert_int_equal(mcrx_context_remove_subscription(s->ctx, s->remove_at_first_of), 0);
        s->remove_at_first_of = 0;
        /* The view stays right after its subscription is gone. */
        copy_text(s->group_after_remove, p->group_ip, strlen(p->group_ip));
    }
    if (s->stop_at != 0 && (int)(i + 1) == s->stop_at)
        assert_int_equal(mcrx_context_stop(s->ctx), MCRX_STATUS_OK);
}

static void seen_init(seen *s, mcrx_context *ctx) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
}

static size_t seen_count(seen *s) {
    size_t n;
    pthread_mutex_lock(&s->mu);
    n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- poll ------------------------------------------------------------------------ */

static void poll_hands_out_one_batch_in_order_with_each_datagrams_texts(void **state) {
    mcrx_context *ctx = fake_context();
    mcrx_subscription *a = add_join(ctx, "239.1.1.1"), *b = add_join(ctx, "239.1.1.2");
    size_t got = 0, max_n = 0;
    seen s;
    (void)state;
    seen_init(&s, ctx);
    push(a, "A1", "10.0.0.1");
    push(a, "A2", "10.0.0.1");
    push(a, "A3", "10.0.0.2"); /* the sender changes: its text too */
    push(b, "B1", "10.0.0.2");
    push(b, "B2", "10.0.0.1");
    assert_int_equal(mcrx_context_poll(ctx, 64, on_view, &s, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 5);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.text[0], "A1");
    assert_string_equal(s.text[2], "A3");
    assert_string_equal(s.text[3], "B1");
    assert_string_equal(s.text[4], "B2");
    assert_string_equal(s.group[0], "239.1.1.1");
    assert_string_equal(s.group[2], "239.1.1.1");
    assert_string_equal(s.group[3], "239.1.1.2");
    assert_string_equal(s.dest[3], "239.1.1.2");
    assert_string_equal(s.source[0], "10.0.0.1");
    assert_string_equal(s.source[1], "10.0.0.1");
    assert_string_equal(s.source[2], "10.0.0.2");
    assert_string_equal(s.source[3], "10.0.0.2");
    assert_string_equal(s.source[4], "10.0.0.1");
    /* one receive per subscription for the lot (and one that found none) */
    assert_true(fake_recv_calls(a, &max_n) <= 2);
    assert_true(max_n > 1);
    assert_int_equal(total_packets(ctx), 5);
    mcrx_context_free(ctx);
}

static void poll_takes_no_more_than_max_packets_and_leaves_the_rest_queued(void **state) {
    mcrx_context *ctx = fake_context();
    mcrx_subscription *a = add_join(ctx, "239.1.1.1");
    size_t got = 0;
    seen s;
    (void)state;
    seen_init(&s, ctx);
    push(a, "A1", "10.0.0.1");
    push(a, "A2", "10.0.0.1");
    push(a, "A3", "10.0.0.1");
    assert_int_equal(mcrx_context_poll(ctx, 2, on_view, &s, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 2);
    assert_int_equal(fake_queued(a), 1);
    assert_int_equal(sub_packets(a), 2);
    assert_int_equal(mcrx_context_poll(ctx, 2, on_view, &s, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 1);
    assert_string_equal(s.text[2], "A3");
    mcrx_context_free(ctx);
}

static void poll_callback_removing_its_subscription_drops_its_rest_and_their_counts(void **state) {
    mcrx_context *ctx = fake_context();
    mcrx_subscription *a = add_join(ctx, "239.1.1.1"), *b = add_join(ctx, "239.1.1.2");
    size_t got = 0;
    seen s;
    (void)state;
    seen_init(&s, ctx);
    push(a, "A1", "10.0.0.1");
    push(a, "A2", "10.0.0.1");
    push(a, "A3", "10.0.0.1");
    push(b, "B1", "10.0.0.1");
    s.remove_at_first_of = a->id;
    assert_int_equal(mcrx_context_poll(ctx, 64, on_view, &s, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 2);
    assert_string_equal(s.text[0], "A1");
    assert_string_equal(s.group_after_remove, "239.1.1.1");
    assert_string_equal(s.text[1], "B1");
    assert_string_equal(s.group[1], "239.1.1.2");
    /* A2 and A3 were received in the batch but never delivered: not counted */
    assert_int_equal(total_packets(ctx), 2);
    assert_int_equal(sub_packets(b), 1);
    mcrx_context_free(ctx);
}

static void poll_callback_leaving_another_subscription_drops_its_fetched_datagrams(void **state) {
    mcrx_context *ctx = fake_context();
    mcrx_subscription *a = add_join(ctx, "239.1.1.1"), *b = add_join(ctx, "239.1.1.2");
    size_t got = 0;
    seen s;
    (void)state;
    seen_init(&s, ctx);
    push(a, "A1", "10.0.0.1");
    push(b, "B1", "10.0.0.1");
    push(b, "B2", "10.0.0.1");
    s.leave_on_first = b->id;
    assert_int_equal(mcrx_context_poll(ctx, 64, on_view, &s, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 1);
    assert_string_equal(s.text[0], "A1");
    assert_int_equal(sub_packets(b), 0);
    assert_int_equal(sub_packets(a), 1);
    assert_int_equal(total_packets(ctx), 1);
    mcrx_context_free(ctx);
}

/* ---- the background receiver -------------------------------------------------- */

static int wait_count(seen *s, size_t want) {
    int i;
    for (i = 0; i < 5000 && seen_count(s) < want; i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return seen_count(s) >= want;
}

static void receiver_stopped_inside_its_callback_leaves_the_rest_to_the_next(void **state) {
    mcrx_context *ctx = fake_context();
    mcrx_subscription *a = add_join(ctx, "239.1.1.1");
    seen s;
    int i;
    (void)state;
    seen_init(&s, ctx);
    push(a, "A1", "10.0.0.1");
    push(a, "A2", "10.0.0.1");
    push(a, "A3", "10.0.0.1");
    s.stop_at = 1;
    assert_int_equal(mcrx_context_start(ctx, on_view, &s, 0), MCRX_STATUS_OK);
    assert_true(wait_count(&s, 1));
    for (i = 0; i < 50; i++) { /* a while: nothing more may come */
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(seen_count(&s), 1);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK); /* joins its thread */
    assert_int_equal(fake_queued(a), 0); /* the batch had taken them */
    s.stop_at = 0;
    assert_int_equal(mcrx_context_start(ctx, on_view, &s, 0), MCRX_STATUS_OK);
    assert_true(wait_count(&s, 3));
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[0], "A1");
    assert_string_equal(s.text[1], "A2");
    assert_string_equal(s.text[2], "A3");
    assert_int_equal(total_packets(ctx), 3);
    mcrx_context_free(ctx);
}

static void receiver_callback_removing_its_subscription_drops_its_rest(void **state) {
    mcrx_context *ctx = fake_context();
    mcrx_subscription *a = add_join(ctx, "239.1.1.1"), *b = add_join(ctx, "239.1.1.2");
    seen s;
    (void)state;
    seen_init(&s, ctx);
    push(a, "A1", "10.0.0.1");
    push(a, "A2", "10.0.0.1");
    push(b, "B1", "10.0.0.1");
    s.remove_at_first_of = a->id;
    assert_int_equal(mcrx_context_start(ctx, on_view, &s, 0), MCRX_STATUS_OK);
    assert_true(wait_count(&s, 2));
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "A1");
    assert_string_equal(s.group_after_remove, "239.1.1.1");
    assert_string_equal(s.text[1], "B1");
    assert_int_equal(total_packets(ctx), 2);
    mcrx_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_hands_out_one_batch_in_order_with_each_datagrams_texts),
        cmocka_unit_test(poll_takes_no_more_than_max_packets_and_leaves_the_rest_queued),
        cmocka_unit_test(poll_callback_removing_its_subscription_drops_its_rest_and_their_counts),
        cmocka_unit_test(poll_callback_leaving_another_subscription_drops_its_fetched_datagrams),
        cmocka_unit_test(receiver_stopped_inside_its_callback_leaves_the_rest_to_the_next),
        cmocka_unit_test(receiver_callback_removing_its_subscription_drops_its_rest),
    };
    return cmocka_run_group_tests_name("views", tests, NULL, NULL);
}
