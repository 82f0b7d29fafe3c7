/* The libuv adapter: subscription and context receivers, metadata, stop and
 * start from callbacks without losing datagrams, subscriptions changing while
 * the loop runs, errors, and close. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <mcrx/mcrx_uv.h>

#include "harness.h"

typedef struct run {
    uv_loop_t loop;
    mcrx_uv_receiver *r;
    uv_timer_t deadline, step;
    int sender;
    uint16_t port;
    int received;
    int want;
    int stop_at;        /* stop inside the callback after this many */
    int last_status;
    int closed;
    unsigned char seen[4096];
    uint32_t last_seq;
    int in_order;
    int meta_ok;
    mcrx_context *ctx;
    uint64_t extra_id;
    int step_no;
} run;

static void on_closed(mcrx_uv_receiver *r, void *user) {
    run *t = user;
    (void)r;
    t->closed = 1;
}

static void finish(run *t) {
    mcrx_uv_close(t->r, on_closed, t);
    uv_close((uv_handle_t *)&t->deadline, NULL);
    uv_close((uv_handle_t *)&t->step, NULL);
}

static void on_deadline(uv_timer_t *h) {
    run *t = h->data;
    finish(t); /* the test then sees too few datagrams */
}

static void restart(uv_timer_t *h);

static void on_dg(mcrx_uv_receiver *r, int status, const mcrx_datagram *dg, void *user) {
    run *t = user;
    uint32_t seq;
    t->last_status = status;
    if (status < 0) {
        finish(t);
        return;
    }
    if (dg->len == 4) {
        memcpy(&seq, dg->buf, 4);
        assert_true(seq < sizeof t->seen);
        if (t->seen[seq])
            fail_msg("sequence %u delivered twice", seq);
        t->seen[seq] = 1;
        if (t->received > 0 && seq != t->last_seq + 1)
            t->in_order = 0;
        t->last_seq = seq;
    }
    if (dg->meta != NULL && (dg->meta->valid & MCRX_META_DESTINATION) &&
        mcrx_ip_equal(&dg->meta->destination_local_ip, &dg->group))
        t->meta_ok++;
    t->received++;
    if (t->received == t->stop_at) {
        assert_int_equal(mcrx_uv_recv_stop(r), 0);
        uv_timer_start(&t->step, restart, 100, 0);
    }
    if (t->received == t->want)
        finish(t);
}

static void restart(uv_timer_t *h) {
    run *t = h->data;
    assert_int_equal(mcrx_uv_recv_start(t->r, MCRX_UV_METADATA, on_dg, t), 0);
}

static void setup_run(run *t, int want) {
    memset(t, 0, sizeof *t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    uv_timer_init(&t->loop, &t->deadline);
    uv_timer_init(&t->loop, &t->step);
    t->deadline.data = t->step.data = t;
    uv_timer_start(&t->deadline, on_deadline, 5000, 0);
    t->want = want;
    t->in_order = 1;
    t->port = th_port();
    t->sender = th_sender(S_V4, "va");
}

static void teardown_run(run *t) {
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    close(t->sender);
}

/* A taken subscription on the loop: everything arrives once, in order, with
 * metadata; a stop inside the callback and a start later lose nothing. */
static void subscription_receiver_stops_and_restarts_without_loss(void **state) {
    run t;
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription *sub;
    static const char *const g[1] = {"232.8.0.1"};
    uint64_t id;
    th_seq_sender *snd;
    (void)state;
    setup_run(&t, 200);
    t.stop_at = 7;
    id = th_add_join(ctx, g[0], t.port, S_V4, NULL);
    assert_int_equal(mcrx_context_take_subscription(ctx, id, &sub), 0);
    mcrx_context_free(ctx);
    assert_int_equal(mcrx_uv_receiver_init_subscription(&t.loop, &t.r, sub), 0);
    assert_ptr_equal(mcrx_uv_receiver_subscription(t.r), sub);
    assert_null(mcrx_uv_receiver_context(t.r));
    assert_int_equal(mcrx_uv_recv_start(t.r, MCRX_UV_METADATA, on_dg, &t), 0);
    snd = th_seq_start(t.sender, g, 1, t.port, 0, 200, 20);
    teardown_run(&t);
    th_seq_join(snd);
    assert_int_equal(t.received, 200);
    assert_true(t.in_order);
    assert_int_equal(t.meta_ok, 200);
    assert_true(t.closed);
}

static void add_while_running(uv_timer_t *h) {
    run *t = h->data;
    mcrx_context *ctx = mcrx_uv_receiver_context(t->r);
    if (t->step_no++ == 0) {
        /* a new subscription joins the running receiver, no re-registration */
        t->extra_id = th_add_join(ctx, "239.8.0.3", t->port, NULL, NULL);
        th_send_str(t->sender, "239.8.0.3", t->port, "new");
        uv_timer_start(&t->step, add_while_running, 100, 0);
    } else {
        assert_int_equal(mcrx_context_remove_subscription(ctx, t->extra_id), 0);
        th_send_str(t->sender, "239.8.0.3", t->port, "gone!"); /* never delivered */
        th_send_str(t->sender, "239.8.0.2", t->port, "the last");
    }
}

static void context_receiver_follows_subscription_changes(void **state) {
    run t;
    mcrx_context *ctx = mcrx_context_new();
    (void)state;
    setup_run(&t, 3);
    th_add_join(ctx, "239.8.0.2", t.port, NULL, NULL);
    assert_int_equal(mcrx_uv_receiver_init_context(&t.loop, &t.r, ctx), 0);
    assert_int_equal(mcrx_uv_recv_start(t.r, 0, on_dg, &t), 0);
    th_send_str(t.sender, "239.8.0.2", t.port, "first");
    uv_timer_start(&t.step, add_while_running, 100, 0);
    teardown_run(&t);
    assert_int_equal(t.received, 3); /* first, new, last */
    assert_int_equal(t.meta_ok, 0);  /* no metadata asked for */
    assert_true(t.closed);
}

/* An ICMP error queued on the socket surfaces as a failed receive. */
static void receive_error_reaches_the_callback(void **state) {
    run t;
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    struct sockaddr_in bound = {.sin_family = AF_INET}, peer = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    uint64_t id;
    (void)state;
    setup_run(&t, 1000);
    bound.sin_port = htons(t.port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&bound, sizeof bound), 0);
    mcrx_subscription_config_parse(&cfg, "239.8.0.4", t.port, NULL, NULL);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    assert_int_equal(mcrx_uv_receiver_init_context(&t.loop, &t.r, ctx), 0);
    assert_int_equal(mcrx_uv_recv_start(t.r, 0, on_dg, &t), 0);
    peer.sin_port = htons(9);
    inet_pton(AF_INET, R_V4, &peer.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&peer, sizeof peer), 0);
    assert_int_equal(send(fd, "x", 1, 0), 1);
    teardown_run(&t);
    assert_int_equal(t.last_status, UV_EIO);
    assert_int_equal(t.received, 0);
    assert_true(t.closed);
}

static void bad_arguments(void **state) {
    uv_loop_t loop;
    mcrx_uv_receiver *r;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(mcrx_uv_receiver_init_subscription(&loop, &r, NULL), UV_EINVAL);
    assert_int_equal(mcrx_uv_receiver_init_context(NULL, &r, NULL), UV_EINVAL);
    assert_int_equal(mcrx_uv_recv_start(NULL, 0, on_dg, NULL), UV_EINVAL);
    assert_int_equal(mcrx_uv_recv_stop(NULL), UV_EINVAL);
    mcrx_uv_close(NULL, NULL, NULL);
    uv_loop_close(&loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscription_receiver_stops_and_restarts_without_loss),
        cmocka_unit_test(context_receiver_follows_subscription_changes),
        cmocka_unit_test(receive_error_reaches_the_callback),
        cmocka_unit_test(bad_arguments),
    };
    th_init();
    return cmocka_run_group_tests_name("uv", tests, NULL, NULL);
}
