/*
 * Benchmark receiver: measures how fast a full socket queue is emptied.
 *
 * usage: drain MODE GROUP PORT COUNT K READY_FILE [FIRST]
 *   MODE  naive     recvfrom loop on a plain socket (baseline 1)
 *         recvmmsg  recvmmsg(64) loop written against the kernel (baseline 2, the ceiling)
 *         recvmmsg-bare  the same without the sender addresses (for reference)
 *         Both baselines fetch each sender's address, as any receiver that reports
 *         or filters on it must.
 *         sub       mcrx_subscription_recv, one datagram per call
 *         ctx       mcrx_context_recv, one datagram per call, fair across K subscriptions
 *         batch     mcrx_context_recv_batch, 64 slots per call
 *         thread    mcrx_context_start: background receiver, callback per datagram
 *         poll      mcrx_context_poll (the C ABI), 64 per call, callback per datagram
 *         kernel-wild, kernel-group
 *                   K plain sockets on one port, each joined to its own group,
 *                   bound to the wildcard (the Rust crate's layout) or to their
 *                   group (ours); drained with recvmmsg. What differs is the
 *                   kernel's delivery cost, seen as the sender's rate.
 *         uv        mcrx-core-uv: a context receiver on a libuv loop, callback per datagram
 *         uring-raw an io_uring multishot recvmsg loop written against liburing (provided
 *                   buffer ring of 256 x 2 KiB, sender addresses fetched): the second
 *                   anchor, the kernel's io_uring path without the library
 *         uring-MODE  a library mode (uring-batch, uring-sub, uring-poll, ...) on a
 *                   context made with MCRX_BACKEND_IO_URING (128 buffers of 2 KiB)
 *         A "-lean" suffix on a library mode (sub-lean, ctx-lean, batch-lean) turns
 *         off the per-datagram pktinfo report (rx_options = 0). A "-nocount"
 *         suffix only labels a run of a drain built with MCRX_COUNTERS=OFF.
 *   K     subscriptions in the context (K-1 idle groups plus the one that gets traffic)
 *
 * It joins, makes the active socket's queue very large (SO_RCVBUFFORCE), writes
 * READY_FILE, and waits for SIGUSR1: the sender has filled the queue. Then it
 * drains it and prints one line of key=value results.
 *
 * Heap allocations are counted by interposing malloc and friends, so the
 * allocations-per-datagram figure is a count, not an estimate.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <mcrx/mcrx.h>
#ifdef MCRX_BENCH_UV
#include <mcrx/mcrx_uv.h>
#endif
#ifdef MCRX_BENCH_URING
#include <liburing.h>
#endif

/* ---- allocation counter ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile long allocs;
void *malloc(size_t n) { __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }

#define RCVBUF (1 << 30)
#define SLOT 2048
#define BATCH 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int queued(int fd) {
    int n = 0;
    ioctl(fd, SIOCINQ, &n);
    return n;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "drain: %s: %s\n", what, detail);
    exit(1);
}

/* The library's socket bound to group:port, found by its address: asking
 * mcrx_subscription_sock for it would turn fetching ahead off (the caller
 * would be watching the raw socket). Used only to see the queue's length. */
static int socket_bound_to(const char *group, uint16_t port) {
    struct in_addr g;
    int fd;
    inet_pton(AF_INET, group, &g);
    for (fd = 3; fd < 65536; fd++) {
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;
        if (getsockname(fd, (struct sockaddr *)&sin, &len) == 0 && sin.sin_family == AF_INET &&
            sin.sin_port == htons(port) && sin.sin_addr.s_addr == g.s_addr)
            return fd;
    }
    die("active socket", "no socket bound to the group");
    return -1;
}

static void force_rcvbuf(int fd) {
    int v = RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
        die("SO_RCVBUFFORCE", strerror(errno));
}

static int plain_socket_at(const char *group, uint16_t port, int bind_group, int big) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct ip_mreq m;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    if (bind_group)
        inet_pton(AF_INET, group, &sin.sin_addr);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        die("bind", strerror(errno));
    memset(&m, 0, sizeof m);
    inet_pton(AF_INET, group, &m.imr_multiaddr);
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
        die("join", strerror(errno));
    if (big)
        force_rcvbuf(fd);
    return fd;
}

static int plain_socket(const char *group, uint16_t port) {
    return plain_socket_at(group, port, 0, 1);
}

/* ---- the hand-written io_uring loop ---- */
#ifdef MCRX_BENCH_URING
#define URING_BUFS 256
/* What a careful program does with liburing 2.3 alone: one multishot
 * recvmsg with the sender's address into a provided buffer ring it
 * registers itself, each completion's buffer given back at once, re-armed
 * when the request ends (ENOBUFS). */
static long uring_raw_drain(int fd) {
    static unsigned char bufs[URING_BUFS][SLOT + 64];
    struct io_uring ring;
    struct io_uring_params p;
    struct io_uring_buf_reg reg;
    struct io_uring_buf_ring *br;
    struct msghdr mh;
    long n = 0;
    int armed = 0, i, mask = io_uring_buf_ring_mask(URING_BUFS);
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = URING_BUFS * 2;
    if (io_uring_queue_init_params(8, &ring, &p) < 0)
        die("uring-raw", "io_uring_queue_init");
    if (posix_memalign((void **)&br, 4096, URING_BUFS * sizeof(struct io_uring_buf)) != 0)
        die("uring-raw", "posix_memalign");
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)br;
    reg.ring_entries = URING_BUFS;
    reg.bgid = 0;
    if (io_uring_register_buf_ring(&ring, &reg, 0) < 0)
        die("uring-raw", "io_uring_register_buf_ring");
    io_uring_buf_ring_init(br);
    for (i = 0; i < URING_BUFS; i++)
        io_uring_buf_ring_add(br, bufs[i], sizeof bufs[i], (unsigned short)i, mask, i);
    io_uring_buf_ring_advance(br, URING_BUFS);
    memset(&mh, 0, sizeof mh);
    mh.msg_namelen = sizeof(struct sockaddr_in6);
    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        int back = 0;
        if (!armed) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_recvmsg_multishot(sqe, fd, &mh, MSG_TRUNC);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = 0;
            io_uring_submit(&ring);
            armed = 1;
        }
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            if (!(cqe->flags & IORING_CQE_F_MORE))
                armed = 0;
            if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
                unsigned short bid = (unsigned short)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
                struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(bufs[bid], cqe->res, &mh);
                if (o != NULL)
                    n++;
                io_uring_buf_ring_add(br, bufs[bid], sizeof bufs[bid], bid, mask, back++);
            }
        }
        if (seen > 0) {
            io_uring_buf_ring_advance(br, back);
            io_uring_cq_advance(&ring, seen);
        } else if (queued(fd) == 0 && armed) {
            break;
        }
    }
    io_uring_queue_exit(&ring);
    free(br);
    return n;
}
#endif

/* ---- the libuv mode ---- */
#ifdef MCRX_BENCH_UV
static long uv_count;
static int uv_fd;
static void on_uv(mcrx_uv_receiver *r, int status, const mcrx_datagram *dg, void *user) {
    (void)r;
    (void)dg;
    (void)user;
    if (status == 0)
        uv_count++;
}
/* After each poll phase: stop once the queue is empty. */
static void on_check(uv_check_t *h) {
    if (queued(uv_fd) == 0)
        uv_stop(h->loop);
}
#endif

/* ---- the background-receiver mode ---- */
static volatile long thread_count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long thread_target;
static long poll_count;
static void on_polled(const McrxPacketView *p, void *user) {
    (void)p;
    (void)user;
    poll_count++;
}

static void on_packet(const McrxPacketView *p, void *user) {
    (void)p;
    (void)user;
    if (__atomic_add_fetch(&thread_count, 1, __ATOMIC_RELAXED) >= thread_target) {
        pthread_mutex_lock(&mu);
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
}

int main(int argc, char **argv) {
    const char *mode, *group, *ready;
    char base[32];
    int lean = 0, uring = 0;
    uint16_t port;
    long count, k, received = 0, i;
    static unsigned char arena[BATCH * SLOT];
    mcrx_datagram dgs[BATCH];
    mcrx_context *ctx = NULL;
    mcrx_subscription *active = NULL;
    int fd = -1, sig;
    sigset_t set;
    double t0, t1, c0, c1, join_s = 0, leave_s = 0, join_cpu = 0, free_s = 0;
    long first = 0;
    long a0, a1;
    FILE *f;

    if (argc < 7)
        die("usage", "drain MODE GROUP PORT COUNT K READY_FILE");
    mode = argv[1];
    snprintf(base, sizeof base, "%s", mode);
    if (strlen(base) > 8 && !strcmp(base + strlen(base) - 8, "-nocount"))
        base[strlen(base) - 8] = '\0';
    if (strlen(base) > 5 && !strcmp(base + strlen(base) - 5, "-lean")) {
        base[strlen(base) - 5] = '\0';
        lean = 1;
    }
    if (!strncmp(base, "uring-", 6) && strcmp(base, "uring-raw")) {
        memmove(base, base + 6, strlen(base + 6) + 1);
        uring = 1;
    }
    group = argv[2];
    port = (uint16_t)atoi(argv[3]);
    count = atol(argv[4]);
    k = atol(argv[5]);
    ready = argv[6];
    /* Several drains on one port (join.sh, K above one process's open-file
     * limit) take distinct idle groups: FIRST is this one's first index. */
    if (argc > 7)
        first = atol(argv[7]);

    {
        struct rlimit rl = {(rlim_t)k + 256, (rlim_t)k + 256};
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (!strcmp(mode, "naive") || !strncmp(mode, "recvmmsg", 8) || !strcmp(mode, "recvmsg-pktinfo") ||
        !strcmp(mode, "uring-raw")) {
        fd = plain_socket(group, port);
    } else if (!strncmp(mode, "kernel-", 7)) {
        int bind_group = !strcmp(mode, "kernel-group");
        t0 = now();
        for (i = 0; i < k - 1; i++) {
            char g[32];
            snprintf(g, sizeof g, "239.100.%ld.%ld", (i / 250) % 256, i % 250 + 1);
            plain_socket_at(g, port, bind_group, 0); /* idle: left open until exit */
        }
        fd = plain_socket_at(group, port, bind_group, 1);
        join_s = now() - t0;
        mode = "recvmmsg"; /* drained like the ceiling */
    } else {
        uint64_t id = 0, active_id = 0;
        if (uring) {
            mcrx_context_options o;
            mcrx_context_options_init(&o);
            o.backend = MCRX_BACKEND_IO_URING;
            o.no_fallback = 1;
            o.ring_buffer_bytes = SLOT;
            ctx = mcrx_context_new_with_options(&o);
            if (ctx == NULL)
                die("io_uring context", mcrx_last_error());
        } else {
            ctx = mcrx_context_new();
        }
        t0 = now();
        c0 = cpu();
        for (i = 0; i < k; i++) {
            char g[32];
            long gi = first + i;
            if (i == k - 1)
                snprintf(g, sizeof g, "%s", group);
            else
                snprintf(g, sizeof g, "239.%ld.%ld.%ld", 100 + gi / 64000, (gi / 250) % 256,
                         gi % 250 + 1);
            mcrx_subscription_config cfg;
            mcrx_subscription_config_parse(&cfg, g, port, NULL, NULL);
            if (lean)
                cfg.rx_options = 0;
            if (i == k - 1)
                cfg.rcvbuf_bytes = RCVBUF; /* the library forces it (SO_RCVBUFFORCE) as root */
            if (mcrx_context_add(ctx, &cfg, &id) || mcrx_context_join_subscription(ctx, id))
                die("add/join", mcrx_context_last_error(ctx));
            if (i == k - 1)
                active_id = id;
        }
        join_s = now() - t0;
        join_cpu = cpu() - c0;
        active = mcrx_context_get_subscription(ctx, active_id);
        /* Not through mcrx_subscription_sock: a caller that asks for the raw
         * socket turns fetching ahead off for it (it would watch the socket). */
        {
            size_t got_buf = 0;
            if (mcrx_subscription_rcvbuf(active, &got_buf) != 0 || got_buf < (size_t)RCVBUF)
                die("receive buffer", "the library did not get SO_RCVBUFFORCE (needs CAP_NET_ADMIN)");
        }
        fd = socket_bound_to(group, (uint16_t)port);
    }
    mcrx_datagrams_init(dgs, BATCH, arena, SLOT, NULL);

    f = fopen(ready, "w");
    if (f == NULL)
        die("ready file", strerror(errno));
    fclose(f);
    sigwait(&set, &sig);

    a0 = allocs;
    c0 = cpu();
    t0 = now();
    if (!strcmp(mode, "naive")) {
        for (;;) {
            struct sockaddr_storage from;
            socklen_t flen = sizeof from;
            ssize_t r = recvfrom(fd, arena, SLOT, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
            if (r < 0) {
                if (queued(fd) == 0)
                    break;
                continue;
            }
            received++;
        }
    } else if (!strcmp(mode, "recvmsg-pktinfo")) {
        /* what a careful hand-written receiver does: source and pktinfo per datagram */
        int on = 1;
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
        for (;;) {
            struct sockaddr_storage from;
            union { struct cmsghdr h; char b[256]; } ctrl;
            struct iovec iov = {arena, SLOT};
            struct msghdr mh = {&from, sizeof from, &iov, 1, ctrl.b, sizeof ctrl.b, 0};
            ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);
            if (r < 0) {
                if (queued(fd) == 0)
                    break;
                continue;
            }
            received++;
        }
    } else if (!strcmp(mode, "recvmmsg") || !strcmp(mode, "recvmmsg-bare")) {
        struct mmsghdr mm[BATCH];
        struct iovec iov[BATCH];
        struct sockaddr_storage from[BATCH];
        int bare = !strcmp(mode, "recvmmsg-bare");
        for (;;) {
            int r;
            for (i = 0; i < BATCH; i++) { /* as a real loop must: the kernel rewrites lengths */
                iov[i].iov_base = arena + i * SLOT;
                iov[i].iov_len = SLOT;
                memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
                mm[i].msg_hdr.msg_iov = &iov[i];
                mm[i].msg_hdr.msg_iovlen = 1;
                if (!bare) {
                    mm[i].msg_hdr.msg_name = &from[i];
                    mm[i].msg_hdr.msg_namelen = sizeof from[i];
                }
            }
            r = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
            if (r <= 0) {
                if (queued(fd) == 0)
                    break;
                continue;
            }
            received += r;
        }
    } else if (!strcmp(mode, "uring-raw")) {
#ifdef MCRX_BENCH_URING
        received = uring_raw_drain(fd);
#else
        die("mode", "uring-raw: built without liburing");
#endif
    } else if (!strcmp(mode, "uv")) {
#ifdef MCRX_BENCH_UV
        uv_loop_t loop;
        uv_check_t check;
        mcrx_uv_receiver *r;
        uv_loop_init(&loop);
        uv_fd = fd;
        if (mcrx_uv_receiver_init_context(&loop, &r, ctx) || mcrx_uv_recv_start(r, 0, on_uv, NULL))
            die("uv", "start");
        ctx = NULL; /* the receiver owns it */
        uv_check_init(&loop, &check);
        uv_check_start(&check, on_check);
        uv_run(&loop, UV_RUN_DEFAULT);
        received = uv_count;
        mcrx_uv_close(r, NULL, NULL);
        uv_close((uv_handle_t *)&check, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
#else
        die("mode", "uv: built without libuv");
#endif
    } else if (!strcmp(base, "thread")) {
        thread_target = count;
        if (mcrx_context_start(ctx, on_packet, NULL, 0))
            die("start", mcrx_context_last_error(ctx));
        pthread_mutex_lock(&mu);
        while (thread_count < count && queued(fd) > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&cv, &mu, &ts);
        }
        pthread_mutex_unlock(&mu);
        mcrx_context_stop(ctx);
        received = thread_count;
    } else if (!strcmp(base, "poll")) {
        for (;;) {
            size_t got = 0;
            if (mcrx_context_poll(ctx, BATCH, on_polled, NULL, &got))
                die("poll", mcrx_context_last_error(ctx));
            if (got == 0 && queued(fd) == 0)
                break;
        }
        received = poll_count;
    } else {
        int batch = !strcmp(base, "batch"), per_sub = !strcmp(base, "sub");
        if (!batch && !per_sub && strcmp(base, "ctx"))
            die("mode", mode);
        for (;;) {
            size_t got = 0;
            int rc = batch     ? mcrx_context_recv_batch(ctx, dgs, BATCH, &got)
                     : per_sub ? mcrx_subscription_recv(active, dgs, &got)
                               : mcrx_context_recv(ctx, dgs, &got);
            if (rc)
                die("recv", mcrx_context_last_error(ctx));
            if (got == 0) {
                if (queued(fd) == 0)
                    break;
                continue;
            }
            received += (long)got;
        }
    }
    t1 = now();
    c1 = cpu();
    a1 = allocs;
    if (ctx != NULL) {
        double l0 = now();
        /* DRAIN_FREE_JOINED=1: no leaves, mcrx_context_free drops them all. */
        int leave = getenv("DRAIN_FREE_JOINED") == NULL;
        for (i = 0; leave && i < (long)mcrx_context_subscription_count(ctx); i++)
            mcrx_context_leave_subscription(ctx,
                                            mcrx_subscription_id(mcrx_context_subscription_at(ctx, (size_t)i)));
        leave_s = now() - l0;
        l0 = now();
        mcrx_context_free(ctx);
        free_s = now() - l0;
    } else {
        close(fd);
    }
    printf("mode=%s k=%ld received=%ld seconds=%.6f cpu=%.6f allocs=%ld join_s=%.6f leave_s=%.6f "
           "join_cpu_s=%.6f free_s=%.6f\n",
           argv[1], k, received, t1 - t0, c1 - c0, a1 - a0, join_s, leave_s, join_cpu, free_s);
    return 0;
}
