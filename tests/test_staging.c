/*
 * Fetching ahead on the real kernel: one-datagram calls interleaved with a
 * wait on every readiness path never sleep while datagrams sit staged in the
 * library. Each burst is small enough that the second call's fetch empties
 * the socket into the stage, so from then on only the stage holds data and
 * a wait that looked at the socket alone would sleep until its deadline.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "internal.h"

#define BURST 10
#define BURSTS 3
/* A wait that returns later than this slept on data that was there (a wait
 * that sleeps runs to TH_WAIT_MS; half of it leaves room for a loaded machine). */
#define PROMPT_MS (TH_WAIT_MS / 2)

typedef enum {
    VIA_CONTEXT_WAIT,   /* mcrx_context_wait, then mcrx_context_recv */
    VIA_CONTEXT_FD,     /* poll(mcrx_context_fd), then mcrx_context_recv */
    VIA_CONTEXT_EPOLL,  /* the context fd in the caller's epoll set, level-triggered */
    VIA_FD_SUB_RECV,    /* poll(mcrx_context_fd), then mcrx_subscription_recv */
    VIA_SUB_WAIT,       /* mcrx_subscription_wait, then mcrx_subscription_recv */
    VIA_TAKEN_SUB_WAIT, /* the same on a subscription taken out of its context */
    VIA_RAW_SOCKET,     /* poll(mcrx_subscription_sock): staging is off */
    VIA_SOCKET_LIST     /* poll(the mcrx_context_sockets list): staging is off */
} via;

/* Waits on the path; 1 if it reported ready within PROMPT_MS. */
static int wait_ready(via v, mcrx_context *ctx, mcrx_subscription *sub, int ep, int raw) {
    int ready = 0;
    long long t0 = th_now_ms();
    switch (v) {
    case VIA_CONTEXT_WAIT:
        assert_int_equal(mcrx_context_wait(ctx, TH_WAIT_MS, &ready), 0);
        break;
    case VIA_CONTEXT_FD:
    case VIA_FD_SUB_RECV:
        ready = th_readable(mcrx_context_fd(ctx), TH_WAIT_MS);
        break;
    case VIA_CONTEXT_EPOLL: {
        struct epoll_event ev;
        ready = epoll_wait(ep, &ev, 1, TH_WAIT_MS) == 1;
        break;
    }
    case VIA_SUB_WAIT:
    case VIA_TAKEN_SUB_WAIT:
        assert_int_equal(mcrx_subscription_wait(sub, TH_WAIT_MS, &ready), 0);
        break;
    case VIA_RAW_SOCKET:
    case VIA_SOCKET_LIST:
        ready = th_readable(raw, TH_WAIT_MS);
        break;
    }
    return ready && th_now_ms() - t0 < PROMPT_MS;
}

static size_t recv_one(via v, mcrx_context *ctx, mcrx_subscription *sub, mcrx_datagram *dg) {
    size_t got = 0;
    if (v == VIA_CONTEXT_WAIT || v == VIA_CONTEXT_FD || v == VIA_CONTEXT_EPOLL ||
        v == VIA_SOCKET_LIST)
        assert_int_equal(mcrx_context_recv(ctx, dg, &got), 0);
    else
        assert_int_equal(mcrx_subscription_recv(sub, dg, &got), 0);
    return got;
}

static void run(via v, int expect_staging) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription *sub;
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), ep = -1, raw = -1, staged_seen = 0;
    uint64_t id;
    unsigned char buf[2048];
    char text[16];
    mcrx_datagram dg;
    size_t b, i;

    assert_non_null(ctx);
    id = th_add_join(ctx, "239.6.7.1", port, NULL, NULL);
    sub = mcrx_context_get_subscription(ctx, id);
    if (v == VIA_TAKEN_SUB_WAIT)
        assert_int_equal(mcrx_context_take_subscription(ctx, id, &sub), 0);
    if (v == VIA_CONTEXT_EPOLL) {
        struct epoll_event ev = {.events = EPOLLIN};
        ep = epoll_create1(0);
        assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, (int)mcrx_context_fd(ctx), &ev), 0);
    }
    if (v == VIA_RAW_SOCKET)
        raw = (int)mcrx_subscription_sock(sub);
    if (v == VIA_SOCKET_LIST) {
        mcrx_sock socks[1];
        size_t n = 0;
        assert_int_equal(mcrx_context_sockets(ctx, socks, 1, &n), 0);
        assert_int_equal(n, 1);
        raw = (int)socks[0];
    }
    mcrx_datagram_init(&dg, buf, sizeof buf);
    for (b = 0; b < BURSTS; b++) {
        for (i = 0; i < BURST; i++) {
            snprintf(text, sizeof text, "%zu", b * BURST + i);
            th_send_str(s, "239.6.7.1", port, text);
        }
        th_settle(); /* the whole burst is queued before the first call */
        for (i = 0; i < BURST; i++) {
            if (!wait_ready(v, ctx, sub, ep, raw))
                fail_msg("path %d, datagram %zu: the wait slept with data queued or staged",
                         (int)v, b * BURST + i);
            assert_int_equal(recv_one(v, ctx, sub, &dg), 1);
            snprintf(text, sizeof text, "%zu", b * BURST + i);
            assert_int_equal(dg.len, strlen(text));
            assert_memory_equal(dg.buf, text, dg.len);
            staged_seen |= sub->stage != NULL;
        }
        /* Everything received: the waits say so (they may wake once
         * spuriously, never report data that is not there). */
        assert_int_equal(recv_one(v, ctx, sub, &dg), 0);
        assert_null(sub->stage);
    }
    /* The test proves something only where datagrams really were staged,
     * and staging stays off where the caller watches raw sockets. */
    assert_int_equal(staged_seen, expect_staging);
    if (ep >= 0)
        close(ep);
    close(s);
    if (v == VIA_TAKEN_SUB_WAIT)
        mcrx_subscription_free(sub);
    mcrx_context_free(ctx);
}

static void context_wait_sees_staged_datagrams(void **state) {
    (void)state;
    run(VIA_CONTEXT_WAIT, 1);
}

static void context_fd_sees_staged_datagrams(void **state) {
    (void)state;
    run(VIA_CONTEXT_FD, 1);
}

static void context_fd_in_a_callers_epoll_sees_staged_datagrams(void **state) {
    (void)state;
    run(VIA_CONTEXT_EPOLL, 1);
}

static void context_fd_sees_datagrams_staged_by_subscription_calls(void **state) {
    (void)state;
    run(VIA_FD_SUB_RECV, 1);
}

static void subscription_wait_sees_staged_datagrams(void **state) {
    (void)state;
    run(VIA_SUB_WAIT, 1);
}

/* Taken, it hands out only what it had staged: no context, no staging. */
static void taken_subscription_receives_directly(void **state) {
    (void)state;
    run(VIA_TAKEN_SUB_WAIT, 0);
}

static void raw_socket_watchers_get_no_staging(void **state) {
    (void)state;
    run(VIA_RAW_SOCKET, 0);
}

static void socket_list_watchers_get_no_staging(void **state) {
    (void)state;
    run(VIA_SOCKET_LIST, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(context_wait_sees_staged_datagrams),
        cmocka_unit_test(context_fd_sees_staged_datagrams),
        cmocka_unit_test(context_fd_in_a_callers_epoll_sees_staged_datagrams),
        cmocka_unit_test(context_fd_sees_datagrams_staged_by_subscription_calls),
        cmocka_unit_test(subscription_wait_sees_staged_datagrams),
        cmocka_unit_test(taken_subscription_receives_directly),
        cmocka_unit_test(raw_socket_watchers_get_no_staging),
        cmocka_unit_test(socket_list_watchers_get_no_staging),
    };
    th_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
