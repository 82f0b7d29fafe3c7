/*
 * Threads: start, stop, poll and free racing from several threads, and socket
 * ownership. Real datagrams flow through every race, and each must arrive
 * exactly once. A watchdog thread ends the process if a test outlives its
 * deadline, so a deadlock fails the run instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mcrx_core_ffi.h>

#include "harness.h"

/* Iterations of each race; each one is a full start/stop cycle. */
#define RACE_ITERATIONS 200
/* Seconds a single test may take before the watchdog calls it a deadlock. */
#define TEST_DEADLINE_S 60
/* Waits for datagrams: generous, since the sanitizer builds run slowly. */
#define DRAIN_MS 10000
#define MAX_SEQ 65536

/* ---- watchdog ------------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    const char *test; /* armed while not NULL */
    long long deadline_ms;
    int quit;
} wd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *watchdog_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wd.mu);
    while (!wd.quit) {
        struct timespec ts;
        if (wd.test != NULL && th_now_ms() >= wd.deadline_ms) {
            fprintf(stderr, "test_threads: %s still running after %d s: deadlock\n", wd.test,
                    TEST_DEADLINE_S);
            _exit(1);
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wd.cv, &wd.mu, &ts);
    }
    pthread_mutex_unlock(&wd.mu);
    return NULL;
}

static void watchdog_arm(const char *test) {
    pthread_mutex_lock(&wd.mu);
    wd.test = test;
    wd.deadline_ms = th_now_ms() + TEST_DEADLINE_S * 1000LL;
    pthread_mutex_unlock(&wd.mu);
}

static int disarm(void **state) {
    (void)state;
    pthread_mutex_lock(&wd.mu);
    wd.test = NULL;
    pthread_mutex_unlock(&wd.mu);
    return 0;
}

/* ---- traffic: a paced sender and an exactly-once receiver ------------------------------- */

typedef struct sender {
    pthread_t thread;
    int fd;
    const char *group;
    uint16_t port;
    atomic_int quit;
    atomic_uint sent;
} sender;

static void *sender_main(void *arg) {
    sender *s = arg;
    while (!atomic_load(&s->quit) && atomic_load(&s->sent) < MAX_SEQ) {
        uint32_t seq = atomic_load(&s->sent);
        struct timespec ts = {0, 1000 * 1000L};
        th_send(s->fd, s->group, s->port, &seq, sizeof seq);
        atomic_store(&s->sent, seq + 1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void sender_start(sender *s, const char *group, uint16_t port) {
    memset(s, 0, sizeof *s);
    s->fd = th_sender(S_V4, "va");
    s->group = group;
    s->port = port;
    assert_int_equal(pthread_create(&s->thread, NULL, sender_main, s), 0);
}

/* Stops sending; returns how many datagrams went out. */
static uint32_t sender_stop(sender *s) {
    atomic_store(&s->quit, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    return atomic_load(&s->sent);
}

typedef struct rx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char seen[MAX_SEQ];
    uint32_t unique, dups, malformed;
    const char *group;
    atomic_int in_callback;
    atomic_int overlapped;  /* two receiver callbacks ran at once */
    McrxContext *ctx;
    /* callback actions */
    atomic_int restart_in_callback; /* stop + start from inside, every datagram */
    atomic_int restart_ok, restart_busy, restart_other;
    atomic_int start_without_stop;  /* start from inside, without stop */
    atomic_int self_start_rc;
    atomic_int self_start_kind;
    atomic_int self_start_has_message;
    atomic_int self_start_done;
    atomic_int stop_self;           /* stop from inside, then signal */
    atomic_int stopped_self;
} rx;

static rx *rx_new(McrxContext *ctx, const char *group) {
    rx *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->ctx = ctx;
    r->group = group;
    atomic_store(&r->self_start_rc, -1);
    return r;
}

static void rx_free(rx *r) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Records one datagram; views are checked field by field, since a buffer
 * shared between two delivery paths would show up as a torn view. */
static void record(rx *r, const McrxPacketView *p) {
    uint32_t seq = 0;
    int ok = p->payload_len == sizeof seq && p->group_ip != NULL &&
             strcmp(p->group_ip, r->group) == 0 && p->source_ip != NULL &&
             strcmp(p->source_ip, S_V4) == 0;
    if (ok)
        memcpy(&seq, p->payload, sizeof seq);
    pthread_mutex_lock(&r->mu);
    if (!ok || seq >= MAX_SEQ)
        r->malformed++;
    else if (r->seen[seq])
        r->dups++;
    else {
        r->seen[seq] = 1;
        r->unique++;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The background receiver's callback: never two at once. */
static void on_datagram(const McrxPacketView *p, void *user) {
    rx *r = user;
    if (atomic_exchange(&r->in_callback, 1))
        atomic_store(&r->overlapped, 1);
    record(r, p);
    if (atomic_load(&r->restart_in_callback)) {
        int rc;
        mcrx_context_stop(r->ctx);
        rc = mcrx_context_start(r->ctx, on_datagram, r, 0);
        if (rc == MCRX_STATUS_OK)
            atomic_fetch_add(&r->restart_ok, 1);
        else if (rc == MCRX_STATUS_ALREADY_RUNNING)
            atomic_fetch_add(&r->restart_busy, 1); /* a racing start replaced us */
        else
            atomic_fetch_add(&r->restart_other, 1);
    }
    if (atomic_exchange(&r->start_without_stop, 0)) {
        /* Nothing else calls on the context meanwhile: its error is ours. */
        atomic_store(&r->self_start_rc, mcrx_context_start(r->ctx, on_datagram, r, 0));
        atomic_store(&r->self_start_kind, (int)mcrx_context_last_error_code(r->ctx));
        atomic_store(&r->self_start_has_message,
                     strncmp(mcrx_context_last_error(r->ctx), "MCRX: ", 6) == 0);
        atomic_store(&r->self_start_done, 1);
    }
    if (atomic_exchange(&r->stop_self, 0)) {
        mcrx_context_stop(r->ctx);
        atomic_store(&r->stopped_self, 1);
    }
    atomic_store(&r->in_callback, 0);
}

/* Poll callbacks run beside the receiver's, so they skip the overlap check. */
static void on_polled(const McrxPacketView *p, void *user) {
    record(user, p);
}

static int wait_unique(rx *r, uint32_t want, int ms) {
    long long end = th_now_ms() + ms;
    int ok;
    pthread_mutex_lock(&r->mu);
    while (r->unique < want && th_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    ok = r->unique >= want;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static uint32_t unique_count(rx *r) {
    uint32_t n;
    pthread_mutex_lock(&r->mu);
    n = r->unique;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int wait_flag(atomic_int *flag, int ms) {
    long long end = th_now_ms() + ms;
    while (!atomic_load(flag) && th_now_ms() < end) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(flag);
}

static uint64_t kernel_drops(McrxContext *ctx) {
    mcrx_context_metrics m;
    assert_int_equal(mcrx_context_metrics_get(ctx, &m), 0);
    return m.total_kernel_drops;
}

/* After the churn: stopped datagrams waited in the socket, so a last receiver
 * delivers every one sent, each once; and a stop really stops it. */
static void assert_all_delivered_once(McrxContext *ctx, rx *r, sender *s) {
    uint32_t sent, before;
    int fd;
    assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
    sent = sender_stop(s);
    assert_true(sent > 0);
    if (!wait_unique(r, sent, DRAIN_MS))
        fail_msg("%u of %u datagrams delivered (kernel drops: %llu)", unique_count(r), sent,
                 (unsigned long long)kernel_drops(ctx));
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(r->dups, 0);
    assert_int_equal(r->malformed, 0);
    assert_false(atomic_load(&r->overlapped));
    assert_false(atomic_load(&r->in_callback));
    before = unique_count(r);
    fd = th_sender(S_V4, "va");
    th_send(fd, r->group, s->port, &sent, sizeof sent);
    close(fd);
    th_settle();
    assert_int_equal(unique_count(r), before); /* nothing runs after stop */
}

/* ---- racing threads ----------------------------------------------------------------- */

typedef enum { ACT_START, ACT_STOP, ACT_START_STOP } action;

typedef struct racer {
    pthread_t thread;
    McrxContext *ctx;
    rx *r;
    pthread_barrier_t *barrier;
    pthread_barrier_t *done; /* NULL, or waited on after acting */
    action act;
    int iterations;
    unsigned seed;
    int bad_start, bad_stop, already_running;
} racer;

/* Receivers get to run and deliver, and the next race starts from a
 * different state. */
static void pause_up_to_1ms(unsigned *seed) {
    struct timespec ts = {0, (long)(rand_r(seed) % 1000) * 1000L};
    nanosleep(&ts, NULL);
}

/* Each iteration all racers leave the barrier together, then act. Results
 * are recorded here and asserted on the main thread (cmocka's failures
 * jump, which only works there). */
static void *racer_main(void *arg) {
    racer *x = arg;
    int i;
    for (i = 0; i < x->iterations; i++) {
        int rc;
        pthread_barrier_wait(x->barrier);
        if (x->act == ACT_START || x->act == ACT_START_STOP) {
            rc = mcrx_context_start(x->ctx, on_datagram, x->r, 0);
            if (rc == MCRX_STATUS_ALREADY_RUNNING)
                x->already_running++;
            else if (rc != MCRX_STATUS_OK)
                x->bad_start++;
        }
        if (x->act == ACT_START_STOP)
            pause_up_to_1ms(&x->seed);
        if (x->act == ACT_STOP || x->act == ACT_START_STOP) {
            if (mcrx_context_stop(x->ctx) != MCRX_STATUS_OK)
                x->bad_stop++;
        }
        if (x->done != NULL) {
            pthread_barrier_wait(x->done);
        } else {
            pause_up_to_1ms(&x->seed);
        }
    }
    return NULL;
}

static void race(McrxContext *ctx, rx *r, const action *acts, int n, int iterations) {
    racer x[4];
    pthread_barrier_t barrier;
    int i;
    assert_true(n <= 4);
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    for (i = 0; i < n; i++) {
        memset(&x[i], 0, sizeof x[i]);
        x[i].ctx = ctx;
        x[i].r = r;
        x[i].barrier = &barrier;
        x[i].act = acts[i];
        x[i].iterations = iterations;
        x[i].seed = (unsigned)(i + 1);
        assert_int_equal(pthread_create(&x[i].thread, NULL, racer_main, &x[i]), 0);
    }
    for (i = 0; i < n; i++)
        pthread_join(x[i].thread, NULL);
    pthread_barrier_destroy(&barrier);
    for (i = 0; i < n; i++) {
        assert_int_equal(x[i].bad_start, 0);
        assert_int_equal(x[i].bad_stop, 0);
    }
}

/* A receive buffer that holds seconds of the sender's traffic: while the
 * racers keep the receiver stopped, datagrams must wait, not be dropped. */
#define RCVBUF_BYTES (8u << 20)

static McrxContext *joined_context(const char *group, uint16_t port) {
    McrxContext *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    uint64_t id;
    assert_non_null(ctx);
    mcrx_subscription_config_init(&cfg);
    assert_int_equal(mcrx_subscription_config_parse(&cfg, group, port, NULL, NULL), 0);
    cfg.rcvbuf_bytes = RCVBUF_BYTES;
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    return ctx;
}


/* Two threads call stop at the same moment, RACE_ITERATIONS times: both
 * return, the thread is joined once, and a new start always succeeds. */
static void two_stops_at_once_join_the_receiver_once(void **state) {
    const char *g = "239.7.0.1";
    uint16_t port = th_port();
    McrxContext *ctx = joined_context(g, port);
    rx *r = rx_new(ctx, g);
    sender s;
    pthread_barrier_t go, done;
    racer x[2];
    long long t0 = th_now_ms();
    int i;
    (void)state;
    watchdog_arm(__func__);
    sender_start(&s, g, port);
    pthread_barrier_init(&go, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    for (i = 0; i < 2; i++) {
        memset(&x[i], 0, sizeof x[i]);
        x[i].ctx = ctx;
        x[i].barrier = &go;
        x[i].done = &done;
        x[i].act = ACT_STOP;
        x[i].iterations = RACE_ITERATIONS;
        assert_int_equal(pthread_create(&x[i].thread, NULL, racer_main, &x[i]), 0);
    }
    for (i = 0; i < RACE_ITERATIONS; i++) {
        assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
        pthread_barrier_wait(&go);   /* both stoppers go */
        pthread_barrier_wait(&done); /* both have returned */
        assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK); /* nothing left */
    }
    for (i = 0; i < 2; i++) {
        pthread_join(x[i].thread, NULL);
        assert_int_equal(x[i].bad_stop, 0);
    }
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
    print_message("%d double stops in %lld ms, %u datagrams delivered meanwhile\n",
                  RACE_ITERATIONS, th_now_ms() - t0, unique_count(r));
    assert_all_delivered_once(ctx, r, &s);
    mcrx_context_free(ctx);
    rx_free(r);
}

/* start and stop from three threads at once: one starts, one stops, one does
 * both. Every start answers OK or ALREADY_RUNNING, every stop OK, and at no
 * time do two receivers run. */
static void start_races_stop_from_several_threads(void **state) {
    static const action acts[] = {ACT_START, ACT_STOP, ACT_START_STOP};
    const char *g = "239.7.0.2";
    uint16_t port = th_port();
    McrxContext *ctx = joined_context(g, port);
    rx *r = rx_new(ctx, g);
    sender s;
    long long t0 = th_now_ms();
    (void)state;
    watchdog_arm(__func__);
    sender_start(&s, g, port);
    race(ctx, r, acts, 3, RACE_ITERATIONS);
    print_message("%d start/stop races in %lld ms, %u datagrams delivered meanwhile\n",
                  RACE_ITERATIONS, th_now_ms() - t0, unique_count(r));
    assert_true(unique_count(r) > 0);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_all_delivered_once(ctx, r, &s);
    mcrx_context_free(ctx);
    rx_free(r);
}

/* One thread starts while another stops, over and over, with the receiver
 * running in between. */
static void start_on_one_thread_while_another_stops(void **state) {
    static const action acts[] = {ACT_START, ACT_STOP};
    const char *g = "239.7.0.3";
    uint16_t port = th_port();
    McrxContext *ctx = joined_context(g, port);
    rx *r = rx_new(ctx, g);
    sender s;
    (void)state;
    watchdog_arm(__func__);
    sender_start(&s, g, port);
    assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
    race(ctx, r, acts, 2, RACE_ITERATIONS);
    assert_true(unique_count(r) > 0);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_all_delivered_once(ctx, r, &s);
    mcrx_context_free(ctx);
    rx_free(r);
}

/* The callback stops and restarts its own receiver on every datagram while
 * two other threads start and stop it. */
static void restart_from_the_callback_races_other_threads(void **state) {
    static const action acts[] = {ACT_START_STOP, ACT_START_STOP};
    const char *g = "239.7.0.4";
    uint16_t port = th_port();
    McrxContext *ctx = joined_context(g, port);
    rx *r = rx_new(ctx, g);
    sender s;
    (void)state;
    watchdog_arm(__func__);
    sender_start(&s, g, port);
    atomic_store(&r->restart_in_callback, 1);
    race(ctx, r, acts, 2, RACE_ITERATIONS);
    atomic_store(&r->restart_in_callback, 0);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    print_message("restarts from the callback: %d ok, %d replaced by a racing start\n",
                  atomic_load(&r->restart_ok), atomic_load(&r->restart_busy));
    assert_int_equal(atomic_load(&r->restart_other), 0);
    assert_true(atomic_load(&r->restart_ok) > 0);
    assert_all_delivered_once(ctx, r, &s);
    mcrx_context_free(ctx);
    rx_free(r);
}

typedef struct start_result {
    McrxContext *ctx;
    rx *r;
    int rc;
    mcrx_error kind;
    char msg[320];
} start_result;

static void *start_on_a_thread(void *arg) {
    start_result *x = arg;
    x->rc = mcrx_context_start(x->ctx, on_datagram, x->r, 0);
    x->kind = mcrx_context_last_error_code(x->ctx);
    snprintf(x->msg, sizeof x->msg, "%s", mcrx_context_last_error(x->ctx));
    return NULL;
}

/* A second start, from the same thread, another thread or the callback,
 * answers 3 and leaves kind ALREADY_RUNNING and a message on the context. */
static void second_start_reports_already_running(void **state) {
    const char *g = "239.7.0.5";
    uint16_t port = th_port();
    McrxContext *ctx = joined_context(g, port);
    rx *r = rx_new(ctx, g);
    start_result x;
    pthread_t t;
    int fd = th_sender(S_V4, "va");
    uint32_t seq = 0;
    (void)state;
    watchdog_arm(__func__);
    assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NONE);

    assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_ALREADY_RUNNING);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_ALREADY_RUNNING);
    assert_non_null(strstr(mcrx_context_last_error(ctx),
                           "MCRX: a background receiver is already running: "));

    memset(&x, 0, sizeof x);
    x.ctx = ctx;
    x.r = r;
    assert_int_equal(pthread_create(&t, NULL, start_on_a_thread, &x), 0);
    pthread_join(t, NULL);
    assert_int_equal(x.rc, MCRX_STATUS_ALREADY_RUNNING);
    assert_int_equal(x.kind, MCRX_ERROR_ALREADY_RUNNING);
    assert_true(strncmp(x.msg, "MCRX: ", 6) == 0 && strlen(x.msg) > 6);

    atomic_store(&r->start_without_stop, 1);
    th_send(fd, g, port, &seq, sizeof seq);
    assert_true(wait_unique(r, 1, DRAIN_MS));
    assert_true(wait_flag(&r->self_start_done, DRAIN_MS));
    assert_true(atomic_load(&r->self_start_has_message));
    assert_int_equal(atomic_load(&r->self_start_rc), MCRX_STATUS_ALREADY_RUNNING);
    assert_int_equal(atomic_load(&r->self_start_kind), MCRX_ERROR_ALREADY_RUNNING);

    /* still one receiver, and after a stop a start succeeds and clears it */
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NONE);
    assert_string_equal(mcrx_context_last_error(ctx), "");
    seq = 1;
    th_send(fd, g, port, &seq, sizeof seq);
    assert_true(wait_unique(r, 2, DRAIN_MS));
    assert_false(atomic_load(&r->overlapped));
    close(fd);
    mcrx_context_free(ctx);
    rx_free(r);
}

static void *stop_on_a_thread(void *arg) {
    mcrx_context_stop(arg);
    return NULL;
}

/* mcrx_context_free right after a stop made elsewhere: on another thread, or
 * from inside the callback (the thread then still needs joining), or with
 * the receiver still running. */
static void free_after_stop_from_any_thread(void **state) {
    const char *g = "239.7.0.6";
    uint16_t port = th_port();
    int fd = th_sender(S_V4, "va"), i;
    (void)state;
    watchdog_arm(__func__);
    for (i = 0; i < 60; i++) {
        McrxContext *ctx = joined_context(g, port);
        rx *r = rx_new(ctx, g);
        uint32_t seq = (uint32_t)i;
        pthread_t t;
        assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
        switch (i % 3) {
        case 0:
            assert_int_equal(pthread_create(&t, NULL, stop_on_a_thread, ctx), 0);
            pthread_join(t, NULL);
            break;
        case 1:
            atomic_store(&r->stop_self, 1);
            th_send(fd, g, port, &seq, sizeof seq);
            assert_true(wait_flag(&r->stopped_self, DRAIN_MS));
            break;
        default:
            break;
        }
        mcrx_context_free(ctx);
        assert_false(atomic_load(&r->in_callback)); /* free joined the receiver */
        rx_free(r);
    }
    close(fd);
}

/* ---- poll ----------------------------------------------------------------------------- */

typedef struct blocker {
    rx *r;
    atomic_int inside, release;
    int rc_inner;
    mcrx_error kind_inner;
    char msg_inner[320];
} blocker;

/* Holds the poll inside its callback until told to go on. */
static void on_polled_and_wait(const McrxPacketView *p, void *user) {
    blocker *b = user;
    size_t got = 0;
    record(b->r, p);
    /* A poll from inside its own callback is refused. */
    b->rc_inner = mcrx_context_poll(b->r->ctx, 1, on_polled, b->r, &got);
    b->kind_inner = mcrx_context_last_error_code(b->r->ctx);
    snprintf(b->msg_inner, sizeof b->msg_inner, "%s", mcrx_context_last_error(b->r->ctx));
    atomic_store(&b->inside, 1);
    wait_flag(&b->release, DRAIN_MS);
}

typedef struct poller {
    pthread_t thread;
    McrxContext *ctx;
    rx *r;
    blocker *b;
    uint32_t want;
    int rc, bad;
    size_t got;
} poller;

static void *poll_once(void *arg) {
    poller *p = arg;
    p->rc = mcrx_context_poll(p->ctx, 1, on_polled_and_wait, p->b, &p->got);
    return NULL;
}

/* Polls until want datagrams were seen, alongside the receiver. */
static void *poll_until(void *arg) {
    poller *p = arg;
    long long end = th_now_ms() + DRAIN_MS;
    while (unique_count(p->r) < p->want && th_now_ms() < end) {
        size_t got = 0;
        int rc = mcrx_context_poll(p->ctx, 8, on_polled, p->r, &got);
        if (rc != MCRX_STATUS_OK && rc != MCRX_STATUS_ERROR)
            p->bad++;
        if (got == 0)
            th_readable(mcrx_context_fd(p->ctx), 5);
    }
    return NULL;
}

/* One poll at a time: another thread's poll (and a poll from inside the
 * callback) is refused with BUSY while it runs. Polls on two threads beside
 * the background receiver share the datagrams: each arrives once, intact. */
static void polls_and_the_receiver_share_datagrams_exactly_once(void **state) {
    const char *g = "239.7.0.7";
    uint16_t port = th_port();
    McrxContext *ctx = joined_context(g, port);
    rx *r = rx_new(ctx, g);
    blocker b;
    poller p[2];
    uint32_t seq = MAX_SEQ - 1, sent; /* clear of the sender's numbers */
    size_t got = 0;
    int fd = th_sender(S_V4, "va"), i;
    sender s;
    (void)state;
    watchdog_arm(__func__);
    memset(&b, 0, sizeof b);
    b.r = r;
    memset(p, 0, sizeof p);
    p[0].ctx = ctx;
    p[0].b = &b;
    th_send(fd, g, port, &seq, sizeof seq);
    assert_true(th_readable(mcrx_context_fd(ctx), TH_WAIT_MS));
    assert_int_equal(pthread_create(&p[0].thread, NULL, poll_once, &p[0]), 0);
    assert_true(wait_flag(&b.inside, DRAIN_MS));
    /* p[0] is held inside its callback: nothing else calls on the context */
    assert_int_equal(mcrx_context_poll(ctx, 1, on_polled, r, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_BUSY);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "MCRX: busy: "));
    assert_non_null(strstr(mcrx_context_last_error(ctx), "another thread"));
    atomic_store(&b.release, 1);
    pthread_join(p[0].thread, NULL);
    assert_int_equal(p[0].rc, MCRX_STATUS_OK);
    assert_int_equal(p[0].got, 1);
    assert_int_equal(b.rc_inner, MCRX_STATUS_ERROR);
    assert_int_equal(b.kind_inner, MCRX_ERROR_BUSY);
    assert_non_null(strstr(b.msg_inner, "inside its own callback"));
    close(fd);

    /* two pollers and the receiver at once */
    sender_start(&s, g, port);
    assert_int_equal(mcrx_context_start(ctx, on_datagram, r, 0), MCRX_STATUS_OK);
    for (i = 0; i < 2; i++) {
        p[i].ctx = ctx;
        p[i].r = r;
        p[i].want = 1500;
        assert_int_equal(pthread_create(&p[i].thread, NULL, poll_until, &p[i]), 0);
    }
    for (i = 0; i < 2; i++) {
        pthread_join(p[i].thread, NULL);
        assert_int_equal(p[i].bad, 0);
    }
    sent = sender_stop(&s);
    if (!wait_unique(r, sent + 1, DRAIN_MS)) /* + 1: the first datagram */
        fail_msg("%u of %u datagrams delivered (kernel drops: %llu)", unique_count(r), sent + 1,
                 (unsigned long long)kernel_drops(ctx));
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(r->dups, 0);
    assert_int_equal(r->malformed, 0);
    mcrx_context_free(ctx);
    rx_free(r);
}

/* ---- ownership ------------------------------------------------------------------------ */

static int bound_udp(uint16_t port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void config(mcrx_subscription_config *cfg, const char *group, uint16_t port) {
    mcrx_subscription_config_init(cfg);
    assert_int_equal(mcrx_subscription_config_parse(cfg, group, port, NULL, NULL), 0);
}

static void assert_refused(McrxContext *ctx, const mcrx_subscription_config *cfg, int fd,
                           uint64_t owner) {
    char want[128];
    uint64_t id = 0;
    assert_int_equal(mcrx_context_add_with_socket(ctx, cfg, fd, &id),
                     MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(id, 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_INVALID_ARGUMENT);
    snprintf(want, sizeof want, "MCRX: invalid argument: socket %d is already owned by "
                                "subscription %llu", fd, (unsigned long long)owner);
    assert_string_equal(mcrx_context_last_error(ctx), want);
}

/* A socket has one owner: handing it over a second time is refused, whether
 * the caller handed it over before or the library opened it, and the owner
 * keeps working. Once the owner gives it back it may be handed over again. */
static void a_socket_handed_over_twice_is_refused(void **state) {
    uint16_t port = th_port();
    McrxContext *ctx = mcrx_context_new();
    mcrx_subscription_config a, b, c;
    mcrx_subscription *taken = NULL;
    mcrx_datagram dg;
    unsigned char buf[64];
    uint64_t id1 = 0, id2, id3 = 0;
    int fd = bound_udp(port), lib_fd, sfd = th_sender(S_V4, "va"), probe, err;
    (void)state;
    watchdog_arm(__func__);
    config(&a, "239.7.0.8", port);
    config(&b, "239.7.0.9", port);
    config(&c, "239.7.0.10", port);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &a, fd, &id1), 0);
    assert_refused(ctx, &b, fd, id1);
    /* the same config again is a duplicate first */
    assert_int_equal(mcrx_context_add_with_socket(ctx, &a, fd, &id3), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);

    id2 = th_add_join(ctx, "239.7.0.11", port, NULL, NULL);
    lib_fd = (int)mcrx_subscription_sock(mcrx_context_get_subscription(ctx, id2));
    assert_refused(ctx, &c, lib_fd, id2);
    assert_int_equal(mcrx_context_subscription_count(ctx), 2);

    /* the first owner still works */
    assert_int_equal(mcrx_context_join_subscription(ctx, id1), 0);
    th_send_str(sfd, "239.7.0.8", port, "owner");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_true(th_ctx_recv_wait(ctx, &dg, TH_WAIT_MS));
    assert_int_equal(dg.subscription_id, id1);

    /* given back, it may be handed over again */
    assert_int_equal(mcrx_context_take_subscription(ctx, id1, &taken), 0);
    if (strcmp(mcrx_context_backend(ctx), "io_uring") == 0) {
        /* Not given back there (the ring drains it): its one owner closes it. */
        assert_int_equal(mcrx_subscription_into_sock(taken), MCRX_SOCK_INVALID);
        assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NOT_SUPPORTED);
        mcrx_subscription_free(taken);
    } else {
        assert_int_equal(mcrx_subscription_into_sock(taken), fd);
        assert_int_equal(mcrx_context_add_with_socket(ctx, &b, fd, &id3), 0);
        assert_int_equal(mcrx_context_remove_subscription(ctx, id3), 0);
    }
    probe = fcntl(fd, F_GETFD);
    err = errno;
    assert_int_equal(probe, -1); /* closed by its one owner */
    assert_int_equal(err, EBADF);

    /* A socket opened now likely reuses the number; freeing the context must
     * leave it alone (a second owner of the old socket would close it). */
    probe = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(probe >= 0);
    mcrx_context_free(ctx);
    assert_true(fcntl(probe, F_GETFD) >= 0);
    close(probe);
    close(sfd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(two_stops_at_once_join_the_receiver_once, NULL, disarm),
        cmocka_unit_test_setup_teardown(start_races_stop_from_several_threads, NULL, disarm),
        cmocka_unit_test_setup_teardown(start_on_one_thread_while_another_stops, NULL, disarm),
        cmocka_unit_test_setup_teardown(restart_from_the_callback_races_other_threads, NULL,
                                        disarm),
        cmocka_unit_test_setup_teardown(second_start_reports_already_running, NULL, disarm),
        cmocka_unit_test_setup_teardown(free_after_stop_from_any_thread, NULL, disarm),
        cmocka_unit_test_setup_teardown(polls_and_the_receiver_share_datagrams_exactly_once, NULL,
                                        disarm),
        cmocka_unit_test_setup_teardown(a_socket_handed_over_twice_is_refused, NULL, disarm),
    };
    int rc;
    th_init();
    assert_int_equal(pthread_create(&wd.thread, NULL, watchdog_main, NULL), 0);
    rc = cmocka_run_group_tests_name("threads", tests, NULL, NULL);
    pthread_mutex_lock(&wd.mu);
    wd.quit = 1;
    pthread_cond_broadcast(&wd.cv);
    pthread_mutex_unlock(&wd.mu);
    pthread_join(wd.thread, NULL);
    return rc;
}
