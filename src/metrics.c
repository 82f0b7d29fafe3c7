/* Metrics: snapshots of the counters the receive path keeps, deltas, rates
 * and samplers. */
#include <string.h>

#include "internal.h"

void mcrx__counters_add(mcrx__counters *to, const mcrx__counters *from) {
    int i;
    to->packets += from->packets;
    to->bytes += from->bytes;
    to->would_block += from->would_block;
    to->errors += from->errors;
    to->joins += from->joins;
    to->leaves += from->leaves;
    to->truncated += from->truncated;
    to->if_rejoins += from->if_rejoins;
    to->if_losses += from->if_losses;
    for (i = 0; i < MCRX__DISCARD_COUNT_; i++)
        to->discarded[i] += from->discarded[i];
}

static void fill_sub(mcrx_subscription *sub, mcrx_subscription_metrics *out) {
    size_t rcvbuf = 0;
    mcrx__err ignored;
    memset(out, 0, sizeof *out);
    out->packets_received = sub->n.packets;
    out->bytes_received = sub->n.bytes;
    out->would_block_count = sub->n.would_block;
    out->receive_errors = sub->n.errors;
    out->join_count = sub->n.joins;
    out->leave_count = sub->n.leaves;
    out->truncated = sub->n.truncated;
    out->discarded_other_group = sub->n.discarded[MCRX__DISCARD_OTHER_GROUP];
    out->discarded_other_source = sub->n.discarded[MCRX__DISCARD_OTHER_SOURCE];
    out->discarded_other_interface = sub->n.discarded[MCRX__DISCARD_OTHER_INTERFACE];
    out->discarded_no_pktinfo = sub->n.discarded[MCRX__DISCARD_NO_PKTINFO];
    out->interface_rejoins = sub->n.if_rejoins;
    out->interface_losses = sub->n.if_losses;
    /* Socket figures where there is an IP socket to ask. */
    if (sub->ep.be->caps & MCRX__CAP_IP_SOCKET) {
        out->kernel_drops = mcrx__plat_drops(sub->ep.sock);
        if (mcrx__plat_rcvbuf(sub->ep.sock, &rcvbuf, &ignored) == 0)
            out->rcvbuf_bytes = rcvbuf;
    }
    if (sub->last_ns != 0) {
        out->has_last = 1;
        out->last_payload_len = sub->last_len;
        out->last_source_port = sub->last_port;
        out->last_source = sub->last_source;
        out->last_receive_ns = sub->last_ns;
    }
    out->captured_at_ns = mcrx__wall_ns();
}

int mcrx_subscription_metrics_get(mcrx_subscription *sub, mcrx_subscription_metrics *out) {
    if (sub == NULL || out == NULL)
        return mcrx__err_set(sub ? &sub->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription and out are required");
    if (sub->ctx != NULL)
        mcrx__mutex_lock(&sub->ctx->lock);
    mcrx__err_clear(&sub->err);
    fill_sub(sub, out);
    if (sub->ctx != NULL)
        mcrx__mutex_unlock(&sub->ctx->lock);
    return 0;
}

static uint64_t discarded(const mcrx__counters *c) {
    uint64_t t = 0;
    int i;
    for (i = 0; i < MCRX__DISCARD_COUNT_; i++)
        t += c->discarded[i];
    return t;
}

int mcrx_context_metrics_get(mcrx_context *ctx, mcrx_context_metrics *out) {
    mcrx__counters total;
    size_t i;
    if (ctx == NULL || out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and out are required");
    memset(out, 0, sizeof *out);
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    total = ctx->retired;
    for (i = 0; i < ctx->nsubs; i++) {
        mcrx_subscription *sub = ctx->subs[i];
        mcrx__counters_add(&total, &sub->n);
        out->joined_subscriptions += sub->state == MCRX_STATE_JOINED;
        if (sub->ep.be->caps & MCRX__CAP_IP_SOCKET)
            out->total_kernel_drops += mcrx__plat_drops(sub->ep.sock);
    }
    out->subscriptions_added = ctx->added;
    out->subscriptions_removed = ctx->removed;
    out->active_subscriptions = ctx->nsubs;
    out->batch_calls = ctx->batch_calls;
    out->batch_packets_received = ctx->batch_packets;
    total.would_block += ctx->would_block;
    out->interface_events_dropped = ctx->events_dropped;
    mcrx__mutex_unlock(&ctx->lock);
    out->total_packets_received = total.packets;
    out->total_bytes_received = total.bytes;
    out->total_would_block_count = total.would_block;
    out->total_receive_errors = total.errors;
    out->total_join_count = total.joins;
    out->total_leave_count = total.leaves;
    out->total_truncated = total.truncated;
    out->total_discarded = discarded(&total);
    out->captured_at_ns = mcrx__wall_ns();
    return 0;
}

/* ---- deltas ------------------------------------------------------------------ */

static double per_sec(uint64_t n, double secs) {
    return secs > 0 ? (double)n / secs : 0.0;
}

static mcrx_error null_arg(void) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                  "earlier, later and out are required");
    return MCRX_ERROR_INVALID_ARGUMENT;
}

static mcrx_error backwards(const char *what) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                  "%s went backwards: the snapshots are out of order or of different objects",
                  what);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

/* d = b - a for one counter, or fail. */
#define SUB_OR_FAIL(field, a, b, d, name)                                                    \
    do {                                                                                     \
        if ((b) < (a))                                                                       \
            return backwards(name);                                                          \
        (d)->field = (b) - (a);                                                              \
    } while (0)

static void rates(mcrx_metrics_delta *d) {
    d->packets_per_sec = per_sec(d->packets_received, d->interval_secs);
    d->bytes_per_sec = per_sec(d->bytes_received, d->interval_secs);
    d->would_block_per_sec = per_sec(d->would_block_count, d->interval_secs);
    d->receive_errors_per_sec = per_sec(d->receive_errors, d->interval_secs);
}

/* The six counters both kinds of delta share, in one order. */
enum { C_PACKETS, C_BYTES, C_WOULD_BLOCK, C_ERRORS, C_JOINS, C_LEAVES, C_COUNT };

static mcrx_error common_delta(int64_t t0, int64_t t1, const uint64_t a[C_COUNT],
                               const uint64_t b[C_COUNT], mcrx_metrics_delta *d) {
    static const char *const names[C_COUNT] = {"packets", "bytes", "would_block_count",
                                               "receive_errors", "join_count", "leave_count"};
    uint64_t v[C_COUNT];
    int i;
    memset(d, 0, sizeof *d);
    if (t1 < t0)
        return backwards("time");
    for (i = 0; i < C_COUNT; i++) {
        if (b[i] < a[i])
            return backwards(names[i]);
        v[i] = b[i] - a[i];
    }
    d->interval_secs = (double)(t1 - t0) / 1e9;
    d->packets_received = v[C_PACKETS];
    d->bytes_received = v[C_BYTES];
    d->would_block_count = v[C_WOULD_BLOCK];
    d->receive_errors = v[C_ERRORS];
    d->join_count = v[C_JOINS];
    d->leave_count = v[C_LEAVES];
    rates(d);
    return MCRX_ERROR_NONE;
}

static void context_counters(const mcrx_context_metrics *m, uint64_t out[C_COUNT]) {
    out[C_PACKETS] = m->total_packets_received;
    out[C_BYTES] = m->total_bytes_received;
    out[C_WOULD_BLOCK] = m->total_would_block_count;
    out[C_ERRORS] = m->total_receive_errors;
    out[C_JOINS] = m->total_join_count;
    out[C_LEAVES] = m->total_leave_count;
}

static void subscription_counters(const mcrx_subscription_metrics *m, uint64_t out[C_COUNT]) {
    out[C_PACKETS] = m->packets_received;
    out[C_BYTES] = m->bytes_received;
    out[C_WOULD_BLOCK] = m->would_block_count;
    out[C_ERRORS] = m->receive_errors;
    out[C_JOINS] = m->join_count;
    out[C_LEAVES] = m->leave_count;
}

mcrx_error mcrx_context_metrics_delta(const mcrx_context_metrics *a, const mcrx_context_metrics *b,
                                      mcrx_metrics_delta *d) {
    uint64_t ca[C_COUNT], cb[C_COUNT];
    mcrx_error e;
    if (a == NULL || b == NULL || d == NULL)
        return null_arg();
    context_counters(a, ca);
    context_counters(b, cb);
    e = common_delta(a->captured_at_ns, b->captured_at_ns, ca, cb, d);
    if (e != MCRX_ERROR_NONE)
        return e;
    SUB_OR_FAIL(batch_calls, a->batch_calls, b->batch_calls, d, "batch_calls");
    SUB_OR_FAIL(batch_packets_received, a->batch_packets_received, b->batch_packets_received, d,
                "batch_packets_received");
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx_subscription_metrics_delta(const mcrx_subscription_metrics *a,
                                           const mcrx_subscription_metrics *b,
                                           mcrx_metrics_delta *d) {
    uint64_t ca[C_COUNT], cb[C_COUNT];
    if (a == NULL || b == NULL || d == NULL)
        return null_arg();
    subscription_counters(a, ca);
    subscription_counters(b, cb);
    return common_delta(a->captured_at_ns, b->captured_at_ns, ca, cb, d);
}

mcrx_error mcrx_hardware_metrics_capture(mcrx_hardware_metrics *out) {
    mcrx_error e;
    if (out == NULL) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "out is required");
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    out->captured_at_ns = mcrx__wall_ns();
    e = mcrx__plat_hardware(out, mcrx__tls_err());
    if (e == MCRX_ERROR_NONE)
        mcrx__err_clear(mcrx__tls_err());
    return e;
}

mcrx_error mcrx_hardware_metrics_delta(const mcrx_hardware_metrics *a,
                                       const mcrx_hardware_metrics *b, mcrx_hardware_delta *d) {
    if (a == NULL || b == NULL || d == NULL)
        return null_arg();
    memset(d, 0, sizeof *d);
    if (b->captured_at_ns < a->captured_at_ns)
        return backwards("time");
    if (b->cpu_user_secs_total < a->cpu_user_secs_total ||
        b->cpu_system_secs_total < a->cpu_system_secs_total)
        return backwards("cpu time");
    d->ts = (double)b->captured_at_ns / 1e9;
    d->interval_secs = (double)(b->captured_at_ns - a->captured_at_ns) / 1e9;
    d->cpu_user_secs = b->cpu_user_secs_total - a->cpu_user_secs_total;
    d->cpu_system_secs = b->cpu_system_secs_total - a->cpu_system_secs_total;
    d->cpu_total_secs = d->cpu_user_secs + d->cpu_system_secs;
    d->cpu_util_percent = d->interval_secs > 0 ? d->cpu_total_secs / d->interval_secs * 100.0 : 0;
    d->rss_bytes = b->rss_bytes;
    d->virtual_memory_bytes = b->virtual_memory_bytes;
    d->thread_count = b->thread_count;
    d->open_fds = b->open_fds;
    SUB_OR_FAIL(page_faults_minor, a->page_faults_minor_total, b->page_faults_minor_total, d,
                "page_faults_minor");
    SUB_OR_FAIL(page_faults_major, a->page_faults_major_total, b->page_faults_major_total, d,
                "page_faults_major");
    SUB_OR_FAIL(ctx_switches_voluntary, a->ctx_switches_voluntary_total,
                b->ctx_switches_voluntary_total, d, "ctx_switches_voluntary");
    SUB_OR_FAIL(ctx_switches_involuntary, a->ctx_switches_involuntary_total,
                b->ctx_switches_involuntary_total, d, "ctx_switches_involuntary");
    return MCRX_ERROR_NONE;
}

/* ---- samplers ---------------------------------------------------------------------- */

/* The one sampler step both kinds share: a delta against the previous
 * snapshot when there is one and it is consistent, then keep now. */
#define SAMPLE(s, now, out, delta_fn)                                                        \
    do {                                                                                     \
        int have_;                                                                           \
        if ((s) == NULL || (now) == NULL || (out) == NULL)                                   \
            return 0;                                                                        \
        have_ = (s)->has_previous && delta_fn(&(s)->previous, (now), (out)) == 0;         \
        (s)->previous = *(now);                                                              \
        (s)->has_previous = 1;                                                               \
        return have_;                                                                        \
    } while (0)

void mcrx_context_sampler_init(mcrx_context_sampler *s) {
    if (s != NULL)
        memset(s, 0, sizeof *s);
}

int mcrx_context_sampler_sample(mcrx_context_sampler *s, const mcrx_context_metrics *now,
                                mcrx_metrics_delta *out) {
    SAMPLE(s, now, out, mcrx_context_metrics_delta);
}

void mcrx_hardware_sampler_init(mcrx_hardware_sampler *s) {
    if (s != NULL)
        memset(s, 0, sizeof *s);
}

int mcrx_hardware_sampler_sample(mcrx_hardware_sampler *s, const mcrx_hardware_metrics *now,
                                 mcrx_hardware_delta *out) {
    SAMPLE(s, now, out, mcrx_hardware_metrics_delta);
}
