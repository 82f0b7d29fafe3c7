/*
 * mcrx_uv_recv: the receiver on a libuv loop (the Rust crate's
 * mcrx_tokio_recv). Same arguments, output and MCRX_METRICS_* variables as
 * mcrx_recv_meta; the context with its joined subscription is handed to
 * mcrx-core-uv.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mcrx/mcrx_uv.h>

#include "tool_common.h"

typedef struct app {
    mcrx_tool_options o;
    uv_loop_t *loop;
    mcrx_uv_receiver *r;
    uv_signal_t sigint, sigterm;
    uv_timer_t idle;
    uv_timer_t metrics_timer;
    mcrx_tool_metrics metrics;
    uint64_t id;
    long received;
    int rc;
    int done;
} app;

static void finish(app *a, int rc) {
    if (a->done)
        return;
    a->done = 1;
    a->rc = rc;
    mcrx_context *ctx = mcrx_uv_receiver_context(a->r);
    if (mcrx_context_leave_subscription(ctx, a->id) != 0 && rc == 0) {
        fprintf(stderr, "%s: failed to leave subscription: %s\n", a->o.name,
                mcrx_context_last_error(ctx));
        a->rc = 1;
    }
    mcrx_tool_metrics_close(&a->metrics);
    mcrx_uv_close(a->r, NULL, NULL); /* frees the context */
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->idle, NULL);
    uv_close((uv_handle_t *)&a->metrics_timer, NULL);
}

static void on_timeout(uv_timer_t *t) {
    app *a = t->data;
    fprintf(stderr, "%s: no datagram for %g s, giving up\n", a->o.name, a->o.timeout);
    finish(a, 2);
}

static void on_datagram(mcrx_uv_receiver *r, int status, const mcrx_datagram *dg, void *user) {
    app *a = user;
    if (status < 0) {
        fprintf(stderr, "%s: receive failed: %s\n", a->o.name, mcrx_uv_last_error(r));
        finish(a, 1);
        return;
    }
    mcrx_tool_print(stdout, dg, &a->o);
    a->received++;
    if (a->o.timeout > 0)
        uv_timer_again(&a->idle);
    if (a->o.count > 0 && a->received >= a->o.count)
        finish(a, 0);
}

static void on_metrics(uv_timer_t *t) {
    app *a = t->data;
    mcrx_tool_metrics_tick(&a->metrics, mcrx_uv_receiver_context(a->r), 1);
}

static void on_signal(uv_signal_t *s, int signum) {
    app *a = s->data;
    (void)signum;
    fprintf(stderr, "%s: shutting down after %ld datagrams\n", a->o.name, a->received);
    finish(a, 0);
}

int main(int argc, char **argv) {
    static app a;
    mcrx_subscription_config cfg;
    mcrx_context *ctx;
    int rc;

    mcrx_tool_recv_options_init(&a.o, 1, "mcrx_uv_recv");
    a.o.ready_name = "mcrx-uv-recv";
    a.o.waiting = "waiting for packets with libuv ...";
    if (mcrx_tool_recv_parse(argc, argv, &a.o) != 0)
        return 1;
    ctx = mcrx_tool_recv_open(&a.o, &cfg, &a.id);
    if (ctx == NULL)
        return 1;
    if (mcrx_tool_metrics_init(&a.metrics, &a.o, &cfg, a.o.json ? stderr : stdout) != 0) {
        mcrx_context_free(ctx);
        return 1;
    }
    mcrx_tool_metrics_tick(&a.metrics, ctx, 1); /* the baseline sample */

    a.loop = uv_default_loop();
    rc = mcrx_uv_receiver_init_context(a.loop, &a.r, ctx);
    if (rc == 0)
        rc = mcrx_uv_recv_start(a.r, MCRX_UV_METADATA, on_datagram, &a);
    if (rc != 0) {
        /* The receiver's message, or the thread's when init failed (a.r NULL). */
        fprintf(stderr, "%s: %s\n", a.o.name, mcrx_uv_last_error(a.r));
        return 1;
    }
    uv_signal_init(a.loop, &a.sigint);
    uv_signal_init(a.loop, &a.sigterm);
    a.sigint.data = a.sigterm.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_timer_init(a.loop, &a.idle);
    a.idle.data = &a;
    if (a.o.timeout > 0) {
        uint64_t ms = (uint64_t)(a.o.timeout * 1000.0);
        uv_timer_start(&a.idle, on_timeout, ms, ms);
    }
    uv_timer_init(a.loop, &a.metrics_timer);
    a.metrics_timer.data = &a;
    if (a.metrics.every > 0) {
        uint64_t ms = (uint64_t)(a.metrics.every * 1000.0);
        uv_timer_start(&a.metrics_timer, on_metrics, ms, ms);
    }
    mcrx_tool_recv_banner(a.o.json ? stderr : stdout, &a.o, &cfg, a.id);
    uv_run(a.loop, UV_RUN_DEFAULT);
    uv_loop_close(a.loop);
    return a.rc;
}
