#include "isolation.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mcrx/mcrx.h>

#include "harness.h"

#define MAGIC 0x4d435258u /* "MCRX" */
#define SLOTS 64
#define SLOT_SIZE 64
#define QUIET_MS 300

/* ---- the model ------------------------------------------------------------------ */

static int expected(const iso_stream *st, const iso_sub *sb) {
    if (st->other_port || strcmp(st->dst, sb->group) != 0)
        return 0;
    if (sb->source != NULL && strcmp(sb->source, st->src) != 0)
        return 0;
    return st->link == (sb->link != 0 ? sb->link : 1);
}

/* ---- sending ------------------------------------------------------------------------ */

typedef struct target {
    int fd;
    struct sockaddr_storage to;
    socklen_t tolen;
} target;

typedef struct sender {
    pthread_t thread;
    target t[ISO_MAX_STREAMS];
    int n;
    uint32_t per_stream, burst;
    int failed;
} sender;

static socklen_t to_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (strchr(addr, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, addr, &in->sin_addr);
        return sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &in6->sin6_addr);
        return sizeof *in6;
    }
}

static void *send_main(void *arg) {
    sender *s = arg;
    uint32_t i;
    int k;
    for (i = 0; i < s->per_stream; i++) {
        for (k = 0; k < s->n; k++) {
            uint32_t msg[3] = {htonl(MAGIC), htonl((uint32_t)k), htonl(i)};
            if (sendto(s->t[k].fd, msg, sizeof msg, 0, (struct sockaddr *)&s->t[k].to,
                       s->t[k].tolen) != (ssize_t)sizeof msg) {
                fprintf(stderr, "isolation: sendto stream %d: %s\n", k, strerror(errno));
                s->failed = 1;
                return NULL;
            }
        }
        if ((i + 1) % s->burst == 0) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ---- foreign programs' sockets --------------------------------------------------------- */

static int foreign(const char *addr, uint16_t port, int reuseport) {
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, port, &ss);
    int one = 1, fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "isolation: foreign bind %s: %s\n", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Joins every group of c on both links; a group joined twice is skipped. */
static void foreign_join_all(int fd, const iso_case *c) {
    int i, j, link;
    for (i = 0; i < c->nsubs; i++) {
        for (j = 0; j < i; j++)
            if (strcmp(c->subs[j].group, c->subs[i].group) == 0)
                break;
        if (j < i)
            continue;
        for (link = 1; link <= 2; link++)
            th_foreign_join(fd, c->subs[i].group, th_rx_ifindex(link == 1 ? "vb" : "vb2"));
    }
}

/* The first group of c a socket can bind without a scope (not link-local). */
static const char *bindable_group(const iso_case *c) {
    int i;
    for (i = 0; i < c->nsubs; i++) {
        unsigned char b[16];
        if (strchr(c->subs[i].group, ':') == NULL ||
            (inet_pton(AF_INET6, c->subs[i].group, b) == 1 && (b[1] & 0x0f) > 2))
            return c->subs[i].group;
    }
    return c->subs[0].group;
}

static int open_foreign(const iso_case *c, uint16_t port, int *fds, int *n) {
    int v6 = strchr(c->subs[0].group, ':') != NULL, i;
    const char *any = v6 ? "::" : "0.0.0.0";
    *n = 0;
    if (c->foreign & ISO_FOREIGN_REUSEADDR) {
        if ((fds[(*n)++] = foreign(any, port, 0)) < 0)
            return -1;
        foreign_join_all(fds[*n - 1], c);
    }
    for (i = 0; i < 2 && (c->foreign & ISO_FOREIGN_REUSEPORT); i++) {
        if ((fds[(*n)++] = foreign(any, port, 1)) < 0)
            return -1;
        foreign_join_all(fds[*n - 1], c);
    }
    for (i = 0; i < 2 && (c->foreign & ISO_FOREIGN_REUSEPORT_GROUP); i++) {
        if ((fds[(*n)++] = foreign(bindable_group(c), port, 1)) < 0)
            return -1;
        foreign_join_all(fds[*n - 1], c);
    }
    return 0;
}

/* ---- receiving and accounting -------------------------------------------------------------- */

typedef struct tally {
    uint8_t *seen; /* bitmap of sequence numbers, expected pairs only */
    int64_t last;
} tally;

typedef struct receiver {
    const iso_case *c;
    uint16_t port;
    uint32_t per_stream;
    mcrx_context *ctx;
    uint64_t ids[ISO_MAX_SUBS];
    mcrx_ip group[ISO_MAX_SUBS], src[ISO_MAX_STREAMS];
    uint32_t link_index[3];
    tally t[ISO_MAX_SUBS][ISO_MAX_STREAMS];
    iso_sub_report rep[ISO_MAX_SUBS];
    uint64_t unique, want;
} receiver;

static int rx_open(receiver *r, const iso_case *c, uint16_t port, uint32_t per_stream) {
    int i, k;
    memset(r, 0, sizeof *r);
    r->c = c;
    r->port = port;
    r->per_stream = per_stream;
    r->link_index[1] = th_rx_ifindex("vb");
    r->link_index[2] = th_rx_ifindex("vb2");
    r->ctx = mcrx_context_new();
    if (r->ctx == NULL)
        return -1;
    for (k = 0; k < c->nstreams; k++)
        mcrx_ip_parse(c->streams[k].src, &r->src[k]);
    for (i = 0; i < c->nsubs; i++) {
        const iso_sub *sb = &c->subs[i];
        mcrx_subscription_config cfg;
        if (mcrx_subscription_config_parse(&cfg, sb->group, port, sb->source, sb->iface) !=
            MCRX_ERROR_NONE) {
            fprintf(stderr, "isolation: %s: %s\n", sb->group, mcrx_last_error());
            return -1;
        }
        if (c->rx_options >= 0)
            cfg.rx_options = (uint32_t)c->rx_options;
        cfg.rx_options |= MCRX_RX_DROPS; /* to tell buffer overflow from isolation loss */
        cfg.rcvbuf_bytes = 8u << 20;
        if (mcrx_context_add(r->ctx, &cfg, &r->ids[i]) != MCRX_STATUS_OK ||
            mcrx_context_join_subscription(r->ctx, r->ids[i]) != MCRX_STATUS_OK) {
            fprintf(stderr, "isolation: sub %d (%s): %s\n", i, sb->group,
                    mcrx_context_last_error(r->ctx));
            return -1;
        }
        r->group[i] = cfg.group;
        for (k = 0; k < c->nstreams; k++) {
            if (!expected(&c->streams[k], sb))
                continue;
            r->t[i][k].seen = calloc((per_stream + 7) / 8, 1);
            r->t[i][k].last = -1;
            r->rep[i].expected += per_stream;
            r->want += per_stream;
            if (r->t[i][k].seen == NULL)
                return -1;
        }
    }
    return 0;
}

static void rx_close(receiver *r) {
    int i, k;
    mcrx_context_free(r->ctx);
    r->ctx = NULL;
    for (i = 0; i < ISO_MAX_SUBS; i++)
        for (k = 0; k < ISO_MAX_STREAMS; k++) {
            free(r->t[i][k].seen);
            r->t[i][k].seen = NULL;
        }
}

static void account(receiver *r, const mcrx_datagram *dg) {
    const iso_case *c = r->c;
    uint32_t msg[3];
    int i, k;
    iso_sub_report *rep;
    tally *t;
    uint32_t seq;
    for (i = 0; i < c->nsubs && r->ids[i] != dg->subscription_id; i++)
        ;
    if (i == c->nsubs) {
        fprintf(stderr, "isolation: datagram for unknown subscription %llu\n",
                (unsigned long long)dg->subscription_id);
        exit(1);
    }
    rep = &r->rep[i];
    rep->received++;
    if (dg->meta != NULL && dg->meta->kernel_drops > rep->kernel_drops)
        rep->kernel_drops = dg->meta->kernel_drops;
    if (dg->len != sizeof msg) {
        rep->foreign++;
        return;
    }
    memcpy(msg, dg->buf, sizeof msg);
    k = (int)ntohl(msg[1]);
    seq = ntohl(msg[2]);
    if (ntohl(msg[0]) != MAGIC || k < 0 || k >= c->nstreams || seq >= r->per_stream ||
        !expected(&c->streams[k], &c->subs[i])) {
        rep->foreign++;
        return;
    }
    if (!mcrx_ip_equal(&dg->source, &r->src[k]) || !mcrx_ip_equal(&dg->group, &r->group[i]) ||
        dg->dst_port != r->port ||
        (dg->meta != NULL && (dg->meta->valid & MCRX_META_INGRESS_IF) &&
         dg->meta->ingress_interface_index != r->link_index[c->streams[k].link]))
        rep->mislabelled++;
    t = &r->t[i][k];
    if (t->seen[seq / 8] & (1u << (seq % 8))) {
        rep->duplicates++;
        return;
    }
    t->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    r->unique++;
    if ((int64_t)seq < t->last)
        rep->reordered++;
    else
        t->last = seq;
}

/* Receives until every expected datagram is in (or the deadline), then until
 * the port has been quiet for QUIET_MS, so late foreign copies are seen. */
static int rx_loop(receiver *r, long long deadline) {
    static unsigned char arena[SLOTS][SLOT_SIZE];
    mcrx_datagram dgs[SLOTS];
    mcrx_metadata metas[SLOTS];
    long long quiet_until = 0;
    int i;
    for (;;) {
        size_t got = 0, j;
        int ready = 0;
        long long now = th_now_ms();
        if (r->unique >= r->want && quiet_until == 0)
            quiet_until = now + QUIET_MS;
        if (now >= deadline || (quiet_until != 0 && now >= quiet_until))
            break;
        if (mcrx_context_wait(r->ctx, 50, &ready) != MCRX_STATUS_OK)
            goto fail;
        if (!ready)
            continue;
        mcrx_datagrams_init(dgs, SLOTS, arena, SLOT_SIZE, metas);
        if (mcrx_context_recv_batch(r->ctx, dgs, SLOTS, &got) != MCRX_STATUS_OK)
            goto fail;
        for (j = 0; j < got; j++)
            account(r, &dgs[j]);
        if (got > 0 && quiet_until != 0)
            quiet_until = th_now_ms() + QUIET_MS;
    }
    for (i = 0; i < r->c->nsubs; i++) {
        uint64_t have = 0;
        int k;
        for (k = 0; k < r->c->nstreams; k++) {
            uint32_t s;
            if (r->t[i][k].seen == NULL)
                continue;
            for (s = 0; s < r->per_stream; s++)
                have += (r->t[i][k].seen[s / 8] >> (s % 8)) & 1u;
        }
        r->rep[i].lost = r->rep[i].expected - have;
    }
    return 0;
fail:
    fprintf(stderr, "isolation: receive: %s\n", mcrx_context_last_error(r->ctx));
    return -1;
}

/* ---- child receiver processes -------------------------------------------------------------- */

static int read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void child_main(const iso_case *c, uint16_t port, uint32_t per_stream,
                       long long deadline, int ready_fd, int result_fd) {
    static receiver r;
    char ok = rx_open(&r, c, port, per_stream) == 0 ? 'R' : 'F';
    if (write_all(ready_fd, &ok, 1) != 0 || ok != 'R')
        _exit(1);
    if (rx_loop(&r, deadline) != 0)
        _exit(1);
    if (write_all(result_fd, r.rep, sizeof r.rep) != 0)
        _exit(1);
    rx_close(&r);
    _exit(0);
}

/* ---- a run --------------------------------------------------------------------------------- */

int iso_run(const iso_case *c, uint16_t port, uint32_t per_stream, uint32_t burst,
            iso_report *out) {
    static receiver r;
    sender s;
    int ffd[8], nf = 0, k, p, rc = -1;
    int nproc = c->processes > 0 ? c->processes : 1;
    pid_t kids[8];
    int ready[8][2], result[8][2];
    int nkids = 0;
    long long deadline;
    struct timespec a, b;

    memset(out, 0, sizeof *out);
    memset(&s, 0, sizeof s);
    if (nproc > 8 || c->nsubs > ISO_MAX_SUBS || c->nstreams > ISO_MAX_STREAMS)
        return -1;
    out->processes = nproc;
    out->nsubs = c->nsubs;
    out->sent = (uint64_t)per_stream * (uint64_t)c->nstreams;
    /* Time enough for the slowest machine: 20 us a datagram and copy, plus 5 s. */
    deadline = th_now_ms() + 5000 +
               (long long)(out->sent * (uint64_t)(nproc + 1) * 20 / 1000);

    if (open_foreign(c, port, ffd, &nf) != 0)
        goto done;
    for (p = 1; p < nproc; p++) {
        if (pipe(ready[p]) != 0 || pipe(result[p]) != 0)
            goto done;
        kids[p] = fork();
        if (kids[p] < 0)
            goto done;
        if (kids[p] == 0) {
            close(ready[p][0]);
            close(result[p][0]);
            child_main(c, port, per_stream, deadline, ready[p][1], result[p][1]);
        }
        close(ready[p][1]);
        close(result[p][1]);
        nkids = p;
    }
    if (rx_open(&r, c, port, per_stream) != 0)
        goto done;
    for (p = 1; p < nproc; p++) {
        char ok = 0;
        if (read_all(ready[p][0], &ok, 1) != 0 || ok != 'R') {
            fprintf(stderr, "isolation: receiver process %d did not start\n", p);
            goto done;
        }
    }

    s.n = c->nstreams;
    s.per_stream = per_stream;
    s.burst = burst > 0 ? burst : 1;
    for (k = 0; k < c->nstreams; k++) {
        const iso_stream *st = &c->streams[k];
        s.t[k].fd = th_sender(st->src, st->link == 1 ? "va" : "va2");
        s.t[k].tolen = to_sockaddr(st->dst, (uint16_t)(port + (st->other_port ? 1 : 0)),
                                   &s.t[k].to);
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (pthread_create(&s.thread, NULL, send_main, &s) != 0)
        goto done;
    rc = rx_loop(&r, deadline);
    pthread_join(s.thread, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    out->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    for (k = 0; k < c->nstreams; k++)
        close(s.t[k].fd);
    if (s.failed)
        rc = -1;
    memcpy(out->subs[0], r.rep, sizeof r.rep);
    for (p = 1; p <= nkids; p++) {
        if (read_all(result[p][0], out->subs[p], sizeof out->subs[p]) != 0) {
            fprintf(stderr, "isolation: receiver process %d failed\n", p);
            rc = -1;
        }
    }
done:
    for (p = 1; p <= nkids; p++) {
        int st = 0;
        close(ready[p][0]);
        close(result[p][0]);
        kill(kids[p], SIGTERM);
        waitpid(kids[p], &st, 0);
    }
    for (k = 0; k < nf; k++)
        close(ffd[k]);
    rx_close(&r);
    return rc;
}

uint64_t iso_failures(const iso_report *r) {
    uint64_t n = 0;
    int p, i;
    for (p = 0; p < r->processes; p++)
        for (i = 0; i < r->nsubs; i++)
            n += r->subs[p][i].foreign + r->subs[p][i].duplicates + r->subs[p][i].lost +
                 r->subs[p][i].mislabelled;
    return n;
}

void iso_print(FILE *f, const iso_case *c, const iso_report *r) {
    int p, i;
    for (p = 0; p < r->processes; p++)
        for (i = 0; i < r->nsubs; i++) {
            const iso_sub *sb = &c->subs[i];
            const iso_sub_report *x = &r->subs[p][i];
            fprintf(f,
                    "%s: process %d sub %d (%s%s%s%s%s): expected %llu received %llu foreign %llu "
                    "duplicates %llu lost %llu reordered %llu mislabelled %llu kernel_drops %llu\n",
                    c->name, p, i, sb->source ? sb->source : "*", ",", sb->group,
                    sb->iface ? " on " : "", sb->iface ? sb->iface : "",
                    (unsigned long long)x->expected, (unsigned long long)x->received,
                    (unsigned long long)x->foreign, (unsigned long long)x->duplicates,
                    (unsigned long long)x->lost, (unsigned long long)x->reordered,
                    (unsigned long long)x->mislabelled, (unsigned long long)x->kernel_drops);
        }
}
