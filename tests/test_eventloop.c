/*
 * Event-loop integration: blocking waits, the context's readiness fd under
 * load (nothing lost, nothing twice), and the background receiver's error
 * path and life with subscriptions changing under it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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

static void wait_times_out_then_wakes_on_data(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), ready = 7;
    uint64_t id;
    long long t0;
    unsigned char buf[64];
    mcrx_datagram dg;
    size_t got = 0;
    (void)state;
    id = th_add_join(ctx, "239.6.0.1", port, NULL, NULL);
    t0 = th_now_ms();
    assert_int_equal(mcrx_context_wait(ctx, 200, &ready), 0);
    assert_int_equal(ready, 0);
    assert_true(th_now_ms() - t0 >= 150);
    th_send_str(s, "239.6.0.1", port, "wake");
    t0 = th_now_ms();
    assert_int_equal(mcrx_context_wait(ctx, TH_WAIT_MS, &ready), 0);
    assert_int_equal(ready, 1);
    assert_true(th_now_ms() - t0 < TH_WAIT_MS);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    /* the same for one subscription */
    assert_int_equal(mcrx_subscription_wait(mcrx_context_get_subscription(ctx, id), 0, &ready), 0);
    assert_int_equal(ready, 0);
    th_send_str(s, "239.6.0.1", port, "again");
    assert_int_equal(
        mcrx_subscription_wait(mcrx_context_get_subscription(ctx, id), TH_WAIT_MS, &ready), 0);
    assert_int_equal(ready, 1);
    assert_int_equal(mcrx_context_wait(NULL, 0, &ready), MCRX_STATUS_INVALID_ARGUMENT);
    close(s);
    mcrx_context_free(ctx);
}

/* 3000 datagrams over three subscriptions, received through the context's fd
 * with a real poll loop: each sequence number exactly once. */
static void readiness_loop_loses_and_repeats_nothing(void **state) {
    static const char *const groups[3] = {"239.6.0.10", "239.6.0.11", "232.6.0.12"};
    static unsigned char arena[32 * 64];
    static unsigned char seen[3000];
    mcrx_datagram dgs[32];
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    th_seq_sender *snd;
    long total = 0;
    long long end;
    (void)state;
    memset(seen, 0, sizeof seen);
    th_add_join(ctx, groups[0], port, NULL, NULL);
    th_add_join(ctx, groups[1], port, NULL, NULL);
    th_add_join(ctx, groups[2], port, S_V4, NULL);
    snd = th_seq_start(s, groups, 3, port, 0, 3000, 20);
    end = th_now_ms() + 10000;
    while (total < 3000 && th_now_ms() < end) {
        size_t got = 0, i;
        if (!th_readable(mcrx_context_fd(ctx), 1000))
            continue;
        mcrx_datagrams_init(dgs, 32, arena, 64, NULL);
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 32, &got), 0);
        for (i = 0; i < got; i++) {
            uint32_t seq;
            assert_int_equal(dgs[i].len, 4);
            memcpy(&seq, dgs[i].buf, 4);
            assert_true(seq < 3000);
            if (seen[seq])
                fail_msg("sequence %u delivered twice", seq);
            seen[seq] = 1;
            /* and on the subscription of the group it was sent to */
            assert_int_equal(dgs[i].subscription_id, seq % 3 + 1);
        }
        total += (long)got;
    }
    th_seq_join(snd);
    assert_int_equal(total, 3000);
    close(s);
    mcrx_context_free(ctx);
}

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int b2; /* datagrams with payload "b2" */
} counter;

static void count_packet(const McrxPacketView *p, void *user) {
    counter *c = user;
    pthread_mutex_lock(&c->mu);
    c->n++;
    c->b2 += p->payload_len == 2 && memcmp(p->payload, "b2", 2) == 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until *v (c->n or c->b2) reaches want. */
static int wait_for(counter *c, const int *v, int want, int ms) {
    long long end = th_now_ms() + ms;
    int ok;
    pthread_mutex_lock(&c->mu);
    while (*v < want && th_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    ok = *v >= want;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

/* A receive error ends the background receiver and stays as the context's
 * error. The error is real: an ICMP port-unreachable queued on a caller's
 * socket surfaces from recvmsg as ECONNREFUSED. */
static void receive_error_stops_the_background_receiver(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    uint16_t port = th_port();
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(9)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    struct sockaddr_in bound = {.sin_family = AF_INET, .sin_port = htons(port)};
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    uint64_t id;
    long long end;
    (void)state;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&bound, sizeof bound), 0);
    mcrx_subscription_config_parse(&cfg, "239.6.0.20", port, NULL, NULL);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    assert_int_equal(mcrx_context_start(ctx, count_packet, &c, 0), 0);
    /* nobody listens on R_V4:9 */
    inet_pton(AF_INET, R_V4, &self.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&self, sizeof self), 0);
    assert_int_equal(send(fd, "x", 1, 0), 1);
    end = th_now_ms() + TH_WAIT_MS;
    while (th_now_ms() < end && mcrx_context_last_error_code(ctx) != MCRX_ERROR_RECEIVE_FAILED) {
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_RECEIVE_FAILED);
    assert_int_equal(mcrx_context_last_os_error(ctx), ECONNREFUSED);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "MCRX: failed to receive"));
    /* stopped: a new start is accepted (not ALREADY_RUNNING) */
    assert_int_equal(mcrx_context_start(ctx, count_packet, &c, 0), 0);
    assert_int_equal(mcrx_context_stop(ctx), 0);
    mcrx_context_free(ctx);
}

/* Subscriptions added, joined, left and removed from the main thread while
 * the background receiver runs. */
static void subscriptions_change_while_the_receiver_runs(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), i;
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    uint64_t a, b;
    (void)state;
    a = th_add_join(ctx, "239.6.0.30", port, NULL, NULL);
    assert_int_equal(mcrx_context_start(ctx, count_packet, &c, 0), 0);
    th_send_str(s, "239.6.0.30", port, "a");
    assert_true(wait_for(&c, &c.n, 1, TH_WAIT_MS));
    b = th_add_join(ctx, "239.6.0.31", port, NULL, NULL);
    th_send_str(s, "239.6.0.31", port, "b");
    assert_true(wait_for(&c, &c.n, 2, TH_WAIT_MS));
    /* remove one while traffic flows to it */
    for (i = 0; i < 50; i++)
        th_send_str(s, "239.6.0.30", port, "flood");
    assert_int_equal(mcrx_context_remove_subscription(ctx, a), 0);
    assert_int_equal(mcrx_context_leave_subscription(ctx, b), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, b), 0);
    /* Waits for "b2" itself: a count read after sending could already
     * include it, when the receiver is quicker than this thread. */
    th_send_str(s, "239.6.0.31", port, "b2");
    assert_true(wait_for(&c, &c.b2, 1, TH_WAIT_MS));
    assert_int_equal(mcrx_context_stop(ctx), 0);
    assert_int_equal(mcrx_context_subscription_count(ctx), 1);
    close(s);
    mcrx_context_free(ctx);
}

/* The socket-list tier on a real context (IPv4 and IPv6, joined and not):
 * mcrx_context_sockets lists exactly the joined subscriptions' sockets in
 * id order, a poll on them wakes for each family's datagram, and the list
 * follows leave and remove. */
static void socket_list_names_the_joined_sockets_and_wakes_per_family(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int s4 = th_sender(S_V4, "va"), s6 = th_sender(S_V6, "va");
    uint64_t a, b, c;
    mcrx_subscription_config cfg;
    mcrx_sock socks[4];
    struct pollfd p[2];
    size_t n = 99, got = 0, i;
    unsigned char buf[64];
    mcrx_datagram dg;
    (void)state;
    a = th_add_join(ctx, "239.6.0.9", port, NULL, NULL);
    b = th_add_join(ctx, "ff0e::6:9", port, NULL, NULL);
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "239.6.0.10", port, NULL, NULL),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_context_add(ctx, &cfg, &c), 0); /* added, never joined */
    assert_true(mcrx_context_fd(ctx) != MCRX_SOCK_INVALID); /* epoll here: both tiers */
    assert_int_equal(mcrx_context_sockets(ctx, NULL, 0, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(mcrx_context_sockets(ctx, socks, 4, &n), 0);
    assert_int_equal(n, 2);
    if (strcmp(mcrx_context_backend(ctx), "io_uring") != 0) {
        assert_true(socks[0] == mcrx_subscription_sock(mcrx_context_get_subscription(ctx, a)));
        assert_true(socks[1] == mcrx_subscription_sock(mcrx_context_get_subscription(ctx, b)));
    } else {
        /* The rings' fds, which the datagrams make readable, not the sockets. */
        assert_true(socks[0] >= 0 && socks[1] >= 0 && socks[0] != socks[1]);
        assert_true(socks[0] != mcrx_subscription_sock(mcrx_context_get_subscription(ctx, a)));
        assert_true(socks[1] != mcrx_subscription_sock(mcrx_context_get_subscription(ctx, b)));
    }
    for (i = 0; i < 2; i++) {
        p[i].fd = (int)socks[i];
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    th_send_str(s6, "ff0e::6:9", port, "six");
    assert_int_equal(poll(p, 2, TH_WAIT_MS), 1);
    assert_int_equal(p[0].revents, 0);
    assert_true(p[1].revents & POLLIN);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dg.subscription_id, b);
    th_send_str(s4, "239.6.0.9", port, "four");
    p[0].revents = p[1].revents = 0;
    assert_int_equal(poll(p, 2, TH_WAIT_MS), 1);
    assert_true(p[0].revents & POLLIN);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dg.subscription_id, a);
    /* The list follows leave and remove. */
    assert_int_equal(mcrx_context_leave_subscription(ctx, a), 0);
    assert_int_equal(mcrx_context_sockets(ctx, socks, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(socks[0] == (mcrx_sock)p[1].fd); /* b's, as listed before */
    assert_int_equal(mcrx_context_remove_subscription(ctx, b), 0);
    assert_int_equal(mcrx_context_sockets(ctx, socks, 4, &n), 0);
    assert_int_equal(n, 0);
    close(s4);
    close(s6);
    mcrx_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_times_out_then_wakes_on_data),
        cmocka_unit_test(readiness_loop_loses_and_repeats_nothing),
        cmocka_unit_test(receive_error_stops_the_background_receiver),
        cmocka_unit_test(subscriptions_change_while_the_receiver_runs),
        cmocka_unit_test(socket_list_names_the_joined_sockets_and_wakes_per_family),
    };
    th_init();
    return cmocka_run_group_tests_name("eventloop", tests, NULL, NULL);
}
