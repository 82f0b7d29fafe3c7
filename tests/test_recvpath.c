/*
 * The receive path without a network: the isolation filter, the fair ready
 * queue, batch limits, truncation and error passing, on the in-memory
 * backend of fake_backend.h; and the control-message parser fed crafted
 * buffers, each in a heap block of exactly its length so that
 * AddressSanitizer catches a read past it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "fake_backend.h"
#include "internal.h"

/* recv.c's private bound on readiness queries per context call. */
#define EXPECTED_MAX_REFILLS MCRX__MAX_REFILLS

/* ---- helpers ------------------------------------------------------------------ */

static mcrx_ip ip(const char *text) {
    mcrx_ip a;
    assert_int_equal(mcrx_ip_parse(text, &a), MCRX_ERROR_NONE);
    return a;
}

static mcrx_context *fake_context(int socket_list) {
    mcrx_context *ctx;
    fake_open_defaults();
    ctx = mcrx__context_new_with(&fake_backend, socket_list);
    assert_non_null(ctx);
    return ctx;
}

/* Adds group:port (source NULL: ASM) with the open settings o (NULL: the
 * defaults) and joins it if join. */
static mcrx_subscription *add_sub(mcrx_context *ctx, const char *group, const char *source,
                                  const fake_open *o, int join) {
    mcrx_subscription_config cfg;
    uint64_t id;
    mcrx_subscription_config_init(&cfg);
    cfg.group = ip(group);
    cfg.dst_port = 5000;
    if (source != NULL)
        cfg.source = ip(source);
    if (o != NULL)
        fake_open_set(o);
    else
        fake_open_defaults();
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    if (join)
        assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    return mcrx_context_get_subscription(ctx, id);
}

/* Queues text for sub, from src (NULL: the SSM source, else 10.0.0.1), to
 * dst (NULL: the group) with the report bits valid and ingress ifindex. */
static void push_to(mcrx_subscription *sub, const char *text, const char *src, const char *dst,
                    uint32_t valid, uint32_t ifindex) {
    fake_dgram d;
    memset(&d, 0, sizeof d);
    d.payload = text;
    d.wire_len = strlen(text);
    d.source = src != NULL ? ip(src)
               : mcrx_subscription_config_is_ssm(&sub->cfg) ? sub->cfg.source
                                                            : ip("10.0.0.1");
    d.source_port = 4000;
    d.info.dst = dst != NULL ? ip(dst) : sub->cfg.group;
    d.info.valid = valid;
    d.info.ifindex = ifindex;
    d.info.ttl = 7;
    fake_push(sub, &d);
}

/* A datagram sub must keep: to its group, from its source, on its interface. */
static void push_own(mcrx_subscription *sub, const char *text) {
    uint32_t valid = MCRX_META_DESTINATION | (sub->ep.ifindex ? MCRX_META_INGRESS_IF : 0);
    push_to(sub, text, NULL, NULL, valid, sub->ep.ifindex);
}

/* n foreign datagrams (to another group). */
static void push_foreign(mcrx_subscription *sub, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        push_to(sub, "foreign", NULL, "239.9.9.9", MCRX_META_DESTINATION, 0);
}

#define SLOTS 256
#define SLOT_SIZE 64

typedef struct slots {
    mcrx_datagram dg[SLOTS];
    mcrx_metadata meta[SLOTS];
    unsigned char arena[SLOTS][SLOT_SIZE];
} slots;

static slots *slots_new(void) {
    slots *s = malloc(sizeof *s);
    assert_non_null(s);
    mcrx_datagrams_init(s->dg, SLOTS, s->arena, SLOT_SIZE, s->meta);
    return s;
}

/* The text of slot i, read through its own buf (slots may exchange them). */
static const char *text_of(const mcrx_datagram *dg) {
    static char t[SLOT_SIZE + 1];
    memcpy(t, dg->buf, dg->len);
    t[dg->len] = '\0';
    return t;
}

/* One mcrx_context_recv call: the text received, or "" if none. */
static const char *ctx_recv_one(mcrx_context *ctx, slots *s) {
    size_t got = 99;
    mcrx_datagrams_init(s->dg, 1, s->arena, SLOT_SIZE, s->meta);
    assert_int_equal(mcrx_context_recv(ctx, s->dg, &got), 0);
    assert_true(got <= 1);
    return got == 1 ? text_of(&s->dg[0]) : "";
}

static mcrx_subscription_metrics metrics_of(mcrx_subscription *sub) {
    mcrx_subscription_metrics m;
    assert_int_equal(mcrx_subscription_metrics_get(sub, &m), 0);
    return m;
}

/* Asserts sub's packet and per-reason discard counters exactly. */
static void expect_counts(mcrx_subscription *sub, uint64_t packets, uint64_t other_group,
                          uint64_t other_source, uint64_t other_interface, uint64_t no_pktinfo) {
    mcrx_subscription_metrics m = metrics_of(sub);
    assert_int_equal(m.packets_received, packets);
    assert_int_equal(m.discarded_other_group, other_group);
    assert_int_equal(m.discarded_other_source, other_source);
    assert_int_equal(m.discarded_other_interface, other_interface);
    assert_int_equal(m.discarded_no_pktinfo, no_pktinfo);
}

/* Drains sub through the context in one batch; asserts the texts in order. */
static void expect_batch(mcrx_context *ctx, slots *s, size_t n, const char *const *want,
                         size_t nwant) {
    size_t got = 99, i;
    mcrx_datagrams_init(s->dg, SLOTS, s->arena, SLOT_SIZE, s->meta);
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, n, &got), 0);
    assert_int_equal(got, nwant);
    for (i = 0; i < nwant; i++)
        assert_string_equal(text_of(&s->dg[i]), want[i]);
}

/* ---- the isolation filter ---------------------------------------------------- */

static void classify_keeps_own_and_discards_other_group_and_unicast_destinations(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    static const char *const want[] = {"own1", "own2", "own3"};
    mcrx_context_metrics cm;
    (void)state;
    push_own(a, "own1");
    push_to(a, "other-group", NULL, "239.1.1.2", MCRX_META_DESTINATION, 0);
    push_own(a, "own2");
    push_to(a, "unicast", NULL, "192.0.2.7", MCRX_META_DESTINATION, 0);
    push_own(a, "own3");
    expect_batch(ctx, s, 16, want, 3);
    /* The kept slots carry the subscription and its metadata. */
    assert_int_equal(s->dg[0].subscription_id, a->id);
    assert_true(mcrx_ip_equal(&s->dg[2].group, &a->cfg.group));
    assert_int_equal(s->dg[2].dst_port, 5000);
    assert_true(s->dg[2].meta->valid & MCRX_META_DESTINATION);
    assert_int_equal(s->dg[2].meta->ttl, 7);
    expect_counts(a, 3, 2, 0, 0, 0);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_packets_received, 3);
    assert_int_equal(cm.total_discarded, 2);
    assert_int_equal(fake_queued(a), 0);
    free(s);
    mcrx_context_free(ctx);
}

static void classify_discards_other_sources_on_ssm(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "232.1.1.1", "10.0.0.5", NULL, 1);
    slots *s = slots_new();
    static const char *const want[] = {"from-S", "from-S-again"};
    (void)state;
    push_own(a, "from-S");
    push_to(a, "from-other", "10.0.0.6", NULL, MCRX_META_DESTINATION, 0);
    push_to(a, "from-other-v6", "2001:db8::6", NULL, MCRX_META_DESTINATION, 0);
    push_own(a, "from-S-again");
    expect_batch(ctx, s, 16, want, 2);
    assert_true(mcrx_ip_equal(&s->dg[1].source, &a->cfg.source));
    expect_counts(a, 2, 0, 2, 0, 0);
    free(s);
    mcrx_context_free(ctx);
}

static void classify_discards_other_ingress_interfaces(void **state) {
    fake_open o = {1, 3, 1}; /* isolated, interface 3 */
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, &o, 1);
    slots *s = slots_new();
    static const char *const want[] = {"on-3", "no-ingress-report"};
    (void)state;
    push_to(a, "on-4", NULL, NULL, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF, 4);
    push_to(a, "on-3", NULL, NULL, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF, 3);
    /* No ingress report: the interface is not known to differ. */
    push_to(a, "no-ingress-report", NULL, NULL, MCRX_META_DESTINATION, 0);
    push_to(a, "on-5", NULL, NULL, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF, 5);
    expect_batch(ctx, s, 16, want, 2);
    expect_counts(a, 2, 0, 0, 2, 0);
    free(s);
    mcrx_context_free(ctx);
}

/* An interface set (lo, and a name no interface has yet): one membership
 * on lo by index, none for the absent one, and classify keeps only what
 * came in on lo; a datagram without an ingress report cannot be shown to
 * be lo's and is discarded. */
static void classify_on_an_interface_set_keeps_only_joined_interfaces(void **state) {
    static const char *const names[] = {"mcrx-absent0", "lo"};
    fake_open o = {0, 0, 1}; /* not isolated: a set's socket is bound to no device */
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription_config cfg;
    mcrx_interface_membership m[4];
    const fake_apply *log;
    mcrx_subscription *a;
    size_t n = 0;
    uint64_t id;
    slots *s = slots_new();
    static const char *const want[] = {"on-lo"};
    (void)state;
    mcrx_subscription_config_init(&cfg);
    cfg.group = ip("239.1.1.1");
    cfg.dst_port = 5000;
    cfg.interfaces = names;
    cfg.ninterfaces = 2;
    fake_open_set(&o);
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    a = mcrx_context_get_subscription(ctx, id);
    log = fake_applies(a, &n);
    assert_int_equal(n, 1);
    assert_int_equal(log[0].ifindex, 1);
    assert_int_equal(log[0].to.mode, MCRX__EXCLUDE);
    assert_int_equal(mcrx_subscription_interfaces(a, m, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].interface_name, "lo"); /* sorted */
    assert_int_equal(m[0].interface_index, 1);
    assert_int_equal(m[0].joined, 1);
    assert_string_equal(m[1].interface_name, "mcrx-absent0");
    assert_int_equal(m[1].interface_index, 0);
    assert_int_equal(m[1].joined, 0);
    push_to(a, "on-2", NULL, NULL, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF, 2);
    push_to(a, "on-lo", NULL, NULL, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF, 1);
    push_to(a, "no-ingress-report", NULL, NULL, MCRX_META_DESTINATION, 0);
    expect_batch(ctx, s, 16, want, 1);
    expect_counts(a, 1, 0, 0, 2, 0);
    /* Leave: lo's membership goes, by index. */
    assert_int_equal(mcrx_context_leave_subscription(ctx, id), 0);
    log = fake_applies(a, &n);
    assert_int_equal(n, 2);
    assert_int_equal(log[1].ifindex, 1);
    assert_int_equal(log[1].from.mode, MCRX__EXCLUDE);
    assert_int_equal(log[1].to.mode, MCRX__INCLUDE);
    assert_int_equal(log[1].to.nsources, 0);
    free(s);
    mcrx_context_free(ctx);
}

static void classify_discards_datagrams_without_pktinfo_unless_isolated(void **state) {
    fake_open open_ = {0, 0, 1};
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, &open_, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1); /* isolated */
    slots *s = slots_new();
    static const char *const want[] = {"a-reported", "b-unreported"};
    (void)state;
    push_to(a, "a-unreported", NULL, NULL, 0, 0);
    push_to(a, "a-reported", NULL, NULL, MCRX_META_DESTINATION, 0);
    push_to(b, "b-unreported", NULL, NULL, 0, 0);
    expect_batch(ctx, s, 16, want, 2);
    expect_counts(a, 1, 0, 0, 0, 1);
    expect_counts(b, 1, 0, 0, 0, 0);
    free(s);
    mcrx_context_free(ctx);
}

static void classify_reasons_in_one_batch_are_counted_each_and_in_the_context_total(void **state) {
    fake_open o = {0, 3, 1}; /* not isolated, interface 3 */
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "232.1.1.1", "10.0.0.5", &o, 1);
    slots *s = slots_new();
    static const char *const want[] = {"own1", "own2", "own3"};
    const uint32_t both = MCRX_META_DESTINATION | MCRX_META_INGRESS_IF;
    mcrx_context_metrics cm;
    (void)state;
    push_to(a, "group", NULL, "232.1.1.2", both, 3);
    push_own(a, "own1");
    push_to(a, "source", "10.0.0.6", NULL, both, 3);
    push_to(a, "iface", NULL, NULL, both, 9);
    push_own(a, "own2");
    push_to(a, "nopkt", NULL, NULL, 0, 0);
    push_to(a, "unicast", NULL, "10.1.1.1", both, 3);
    push_own(a, "own3");
    expect_batch(ctx, s, 16, want, 3);
    expect_counts(a, 3, 2, 1, 1, 1);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_discarded, 5);
    /* Removed, its counts stay in the context's lifetime totals. */
    assert_int_equal(mcrx_context_remove_subscription(ctx, a->id), 0);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_discarded, 5);
    assert_int_equal(cm.total_packets_received, 3);
    free(s);
    mcrx_context_free(ctx);
}

/* ---- the fair ready queue ------------------------------------------------------ */

static void fair_queue_one_datagram_calls_alternate_A1_B1_A2_B2_A3_B3(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    static const char *const want[] = {"A1", "B1", "A2", "B2", "A3", "B3", ""};
    slots *s = slots_new();
    size_t i;
    (void)state;
    push_own(a, "A1");
    push_own(a, "A2");
    push_own(a, "A3");
    push_own(b, "B1");
    push_own(b, "B2");
    push_own(b, "B3");
    for (i = 0; i < 7; i++)
        assert_string_equal(ctx_recv_one(ctx, s), want[i]);
    free(s);
    mcrx_context_free(ctx);
}

static void fair_queue_batch_takes_turns_of_one_chunk(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 0, i;
    (void)state;
    for (i = 0; i < 100; i++) {
        push_own(a, "A");
        push_own(b, "B");
    }
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, SLOTS, &got), 0);
    assert_int_equal(got, 200);
    /* A x TURN, B x TURN, then A's and B's rest. */
    for (i = 0; i < 200; i++) {
        uint64_t want = i < MCRX__RX_CHUNK             ? a->id
                        : i < 2 * MCRX__RX_CHUNK       ? b->id
                        : i < 2 * MCRX__RX_CHUNK + 36  ? a->id
                                                       : b->id;
        assert_int_equal(s->dg[i].subscription_id, want);
    }
    free(s);
    mcrx_context_free(ctx);
}

static void refill_queues_ready_subscriptions_in_ascending_id_order(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    mcrx_subscription *c = add_sub(ctx, "239.1.1.3", NULL, NULL, 1);
    static const char *const want[] = {"A1", "B1", "C1"};
    slots *s = slots_new();
    (void)state;
    /* Ready in the order C, A, B: turns still go by id. */
    push_own(c, "C1");
    push_own(a, "A1");
    push_own(b, "B1");
    expect_batch(ctx, s, 8, want, 3);
    push_own(c, "C2");
    push_own(a, "A2");
    push_own(b, "B2");
    push_own(c, "C3");
    assert_string_equal(ctx_recv_one(ctx, s), "A2");
    assert_string_equal(ctx_recv_one(ctx, s), "B2");
    assert_string_equal(ctx_recv_one(ctx, s), "C2");
    assert_string_equal(ctx_recv_one(ctx, s), "C3");
    assert_string_equal(ctx_recv_one(ctx, s), "");
    free(s);
    mcrx_context_free(ctx);
}

static void a_flooded_subscription_does_not_starve_another(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    (void)state;
    push_foreign(a, 2000);
    push_own(b, "B1");
    /* A spends its budget on discards and loses its turn; B is served in
     * the same one-datagram call. */
    assert_string_equal(ctx_recv_one(ctx, s), "B1");
    assert_int_equal(metrics_of(a).discarded_other_group, MCRX__DISCARD_BUDGET);
    free(s);
    mcrx_context_free(ctx);
}

static void leaving_or_removing_a_queued_subscription_takes_it_out_of_the_queue(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    mcrx_subscription *c = add_sub(ctx, "239.1.1.3", NULL, NULL, 1);
    slots *s = slots_new();
    (void)state;
    push_own(a, "A1");
    push_own(a, "A2");
    push_own(b, "B1");
    push_own(c, "C1");
    assert_string_equal(ctx_recv_one(ctx, s), "A1"); /* queue: B, C, A */
    assert_int_equal(mcrx_context_leave_subscription(ctx, b->id), 0);
    assert_int_equal(mcrx_context_remove_subscription(ctx, c->id), 0);
    assert_string_equal(ctx_recv_one(ctx, s), "A2");
    assert_string_equal(ctx_recv_one(ctx, s), "");
    assert_int_equal(fake_queued(b), 1);
    free(s);
    mcrx_context_free(ctx);
}

static void more_ready_subscriptions_than_one_refill_holds_all_arrive_once(int socket_list) {
    enum { N = 70 }; /* refill() takes at most 64 per readiness query */
    mcrx_context *ctx = fake_context(socket_list);
    mcrx_subscription *subs[N];
    unsigned seen[N + 1];
    slots *s = slots_new();
    size_t got = 0, i;
    char group[32];
    for (i = 0; i < N; i++) {
        snprintf(group, sizeof group, "239.2.0.%zu", i + 1);
        subs[i] = add_sub(ctx, group, NULL, NULL, 1);
        push_own(subs[i], "x");
    }
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, SLOTS, &got), 0);
    assert_int_equal(got, N);
    memset(seen, 0, sizeof seen);
    for (i = 0; i < got; i++) {
        assert_true(s->dg[i].subscription_id >= 1 && s->dg[i].subscription_id <= N);
        seen[s->dg[i].subscription_id]++;
    }
    for (i = 1; i <= N; i++)
        assert_int_equal(seen[i], 1);
    free(s);
    mcrx_context_free(ctx);
}

static void more_ready_subscriptions_than_one_refill_holds_all_arrive(void **state) {
    (void)state;
    more_ready_subscriptions_than_one_refill_holds_all_arrive_once(0);
    more_ready_subscriptions_than_one_refill_holds_all_arrive_once(1);
}

/* ---- batch limits ---------------------------------------------------------------- */

static void batch_above_the_chunk_is_served_in_chunks_with_exact_counts(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 0, max_n = 0, i;
    (void)state;
    for (i = 0; i < 200; i++) {
        push_own(a, "A");
        push_own(b, "B");
    }
    /* One subscription: 150 = 64 + 64 + 22, then the 50 left, then none. */
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 150, &got), 0);
    assert_int_equal(got, 150);
    assert_int_equal(fake_recv_calls(a, &max_n), 3);
    assert_int_equal(max_n, MCRX__RX_CHUNK);
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 150, &got), 0);
    assert_int_equal(got, 50);
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 150, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(metrics_of(a).would_block_count, 1);
    assert_int_equal(metrics_of(a).packets_received, 200);
    /* The context: 150 from B alone, in turns of one chunk, then the rest. */
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 150, &got), 0);
    assert_int_equal(got, 150);
    fake_recv_calls(b, &max_n);
    assert_int_equal(max_n, MCRX__RX_CHUNK);
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 150, &got), 0);
    assert_int_equal(got, 50);
    assert_int_equal(fake_queued(b), 0);
    free(s);
    mcrx_context_free(ctx);
}

static void batch_of_zero_slots_receives_and_consumes_nothing(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 99;
    (void)state;
    push_own(a, "A1");
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 0, &got), 0);
    assert_int_equal(got, 0);
    got = 99;
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 0, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(fake_recv_calls(a, NULL), 0);
    assert_int_equal(fake_queued(a), 1);
    assert_string_equal(ctx_recv_one(ctx, s), "A1");
    free(s);
    mcrx_context_free(ctx);
}

static void discard_budget_bounds_a_call_and_the_own_datagram_arrives_later(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 99, calls = 0, total = 0;
    (void)state;
    push_foreign(a, 1000);
    push_own(a, "own");
    /* Each call discards at most the budget; the own datagram behind the
     * flood arrives on the fourth (1000 = 3 * 256 + 232). */
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, MCRX__RX_CHUNK, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(fake_queued(a), 1001 - MCRX__DISCARD_BUDGET);
    calls = 1;
    while (total == 0) {
        assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, MCRX__RX_CHUNK, &got), 0);
        total += got;
        calls++;
        assert_true(calls <= 4);
    }
    assert_int_equal(calls, 4);
    assert_int_equal(total, 1);
    assert_string_equal(text_of(&s->dg[0]), "own");
    assert_int_equal(fake_queued(a), 0);
    expect_counts(a, 1, 1000, 0, 0, 0);
    free(s);
    mcrx_context_free(ctx);
}

static void context_call_stops_after_max_refills_under_a_flood(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    const size_t per_call = EXPECTED_MAX_REFILLS * MCRX__DISCARD_BUDGET;
    size_t got = 99;
    (void)state;
    push_foreign(a, 2000);
    push_own(a, "own");
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 8, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(metrics_of(a).discarded_other_group, per_call);
    assert_int_equal(fake_queued(a), 2001 - per_call);
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 8, &got), 0);
    assert_int_equal(got, 1);
    assert_string_equal(text_of(&s->dg[0]), "own");
    expect_counts(a, 1, 2000, 0, 0, 0);
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 8, &got), 0);
    assert_int_equal(got, 0);
    free(s);
    mcrx_context_free(ctx);
}

/* ---- truncation --------------------------------------------------------------------- */

static void truncation_keeps_cap_bytes_and_reports_the_wire_length(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    unsigned char *buf = malloc(16); /* exactly the slot: ASan sees an overrun */
    mcrx_datagram dg;
    fake_dgram d;
    size_t got = 0, i;
    (void)state;
    assert_non_null(buf);
    memset(&d, 0, sizeof d);
    d.source = ip("10.0.0.1");
    d.info.dst = a->cfg.group;
    d.info.valid = MCRX_META_DESTINATION;
    d.wire_len = 100; /* bytes 0, 1, 2, ... */
    fake_push(a, &d);
    d.wire_len = 16;  /* an exact fit */
    fake_push(a, &d);
    mcrx_datagram_init(&dg, buf, 16);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dg.len, 16);
    assert_int_equal(dg.wire_len, 100);
    assert_true(dg.flags & MCRX_DATAGRAM_TRUNCATED);
    for (i = 0; i < 16; i++)
        assert_int_equal(buf[i], i);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dg.len, 16);
    assert_int_equal(dg.wire_len, 16);
    assert_int_equal(dg.flags, 0);
    assert_int_equal(metrics_of(a).truncated, 1);
    assert_int_equal(metrics_of(a).bytes_received, 32); /* bytes handed out */
    free(buf);
    mcrx_context_free(ctx);
}

/* A backend that owns its memory (a ring) lends views; the core copies them
 * into the caller's slots with the same truncation rule, filters them the
 * same way, and takes the next batch only after copying this one. */
static void views_backend_is_copied_into_the_slots_filtered_and_truncated(void **state) {
    mcrx_context *ctx;
    mcrx_subscription *a, *b;
    mcrx_datagram dgs[70];
    mcrx_metadata metas[70];
    unsigned char *arena = malloc(70 * 8);
    fake_dgram d;
    size_t got = 0, i;
    char text[16];
    (void)state;
    assert_non_null(arena);
    fake_open_defaults();
    ctx = mcrx__context_new_with(&fake_views_backend, 0);
    assert_non_null(ctx);
    a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    for (i = 0; i < 66; i++) {
        snprintf(text, sizeof text, "a%zu", i);
        push_own(a, text);
    }
    push_to(a, "foreign", NULL, "239.9.9.9", MCRX_META_DESTINATION, 0); /* other group */
    memset(&d, 0, sizeof d);
    d.source = ip("10.0.0.1");
    d.info.dst = b->cfg.group;
    d.info.valid = MCRX_META_DESTINATION;
    d.wire_len = 20; /* larger than a slot of 8 */
    fake_push(b, &d);
    mcrx_datagrams_init(dgs, 70, arena, 8, metas);
    assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 70, &got), 0);
    /* One turn of a (64), b's one, then the rest of a. */
    assert_int_equal(got, 67);
    for (i = 0; i < 64; i++) {
        snprintf(text, sizeof text, "a%zu", i);
        assert_int_equal(dgs[i].subscription_id, a->id);
        assert_int_equal(dgs[i].len, strlen(text));
        assert_memory_equal(dgs[i].buf, text, dgs[i].len);
        assert_true(metas[i].valid & MCRX_META_DESTINATION);
    }
    assert_int_equal(dgs[64].subscription_id, b->id);
    assert_int_equal(dgs[64].len, 8);
    assert_int_equal(dgs[64].wire_len, 20);
    assert_true(dgs[64].flags & MCRX_DATAGRAM_TRUNCATED);
    for (i = 0; i < 8; i++)
        assert_int_equal(((unsigned char *)dgs[64].buf)[i], i);
    assert_memory_equal(dgs[65].buf, "a64", 3);
    assert_memory_equal(dgs[66].buf, "a65", 3);
    assert_int_equal(metrics_of(a).discarded_other_group, 1);
    assert_int_equal(metrics_of(b).truncated, 1);
    assert_int_equal(fake_queued(a) + fake_queued(b), 0);
    free(arena);
    mcrx_context_free(ctx);
}

static void zero_capacity_slot_gets_no_bytes_and_the_truncated_flag(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_datagram dg;
    mcrx_context_metrics cm;
    size_t got = 0;
    (void)state;
    push_own(a, "twelve bytes");
    push_own(a, ""); /* an empty datagram fits a slot of 0 */
    mcrx_datagram_init(&dg, NULL, 0);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dg.len, 0);
    assert_int_equal(dg.wire_len, 12);
    assert_int_equal(dg.flags, MCRX_DATAGRAM_TRUNCATED);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dg.wire_len, 0);
    assert_int_equal(dg.flags, 0);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_truncated, 1);
    mcrx_context_free(ctx);
}

/* ---- errors ----------------------------------------------------------------------------- */

#define REFUSED "Connection refused (errno 111)"

/* The message a receive failure of subscription id has. */
static const char *receive_failed_text(uint64_t id) {
    static char t[256];
    snprintf(t, sizeof t, "%s: subscription %llu: %s",
             mcrx_error_message(MCRX_ERROR_RECEIVE_FAILED), (unsigned long long)id, REFUSED);
    return t;
}

static void receive_failure_is_RECEIVE_FAILED_naming_the_subscription(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 99;
    mcrx_context_metrics cm;
    (void)state;
    assert_int_equal(strncmp(receive_failed_text(1), "MCRX: ", 6), 0);
    /* Through the subscription. */
    fake_push_failure(a, MCRX_ERROR_RECEIVE_FAILED, ECONNREFUSED, REFUSED);
    assert_int_equal(mcrx_subscription_recv(a, s->dg, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_subscription_last_error_code(a), MCRX_ERROR_RECEIVE_FAILED);
    assert_int_equal(mcrx_subscription_last_os_error(a), ECONNREFUSED);
    assert_string_equal(mcrx_subscription_last_error(a), receive_failed_text(a->id));
    /* Through the context. */
    fake_push_failure(b, MCRX_ERROR_RECEIVE_FAILED, ECONNREFUSED, REFUSED);
    got = 99;
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 8, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_RECEIVE_FAILED);
    assert_int_equal(mcrx_context_last_os_error(ctx), ECONNREFUSED);
    assert_string_equal(mcrx_context_last_error(ctx), receive_failed_text(b->id));
    assert_int_equal(metrics_of(a).receive_errors, 1);
    assert_int_equal(metrics_of(b).receive_errors, 1);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_receive_errors, 2);
    /* Reported once: the next call is clean. */
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 8, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NONE);
    free(s);
    mcrx_context_free(ctx);
}

static void failure_after_datagrams_delivers_them_now_and_the_error_next_call(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    static const char *const want[] = {"A1", "A2"};
    size_t got = 99;
    int ready = 0;
    (void)state;
    push_own(a, "A1");
    push_own(a, "A2");
    fake_push_failure(a, MCRX_ERROR_RECEIVE_FAILED, ECONNREFUSED, REFUSED);
    push_own(a, "A3");
    expect_batch(ctx, s, 8, want, 2);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NONE);
    /* The held error makes the context ready. */
    assert_int_equal(mcrx_context_wait(ctx, 0, &ready), 0);
    assert_int_equal(ready, 1);
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 8, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_RECEIVE_FAILED);
    assert_string_equal(mcrx_context_last_error(ctx), receive_failed_text(a->id));
    /* Then what was behind the failure. */
    assert_string_equal(ctx_recv_one(ctx, s), "A3");
    assert_string_equal(ctx_recv_one(ctx, s), "");
    free(s);
    mcrx_context_free(ctx);
}

static void subscription_batch_failure_after_a_full_chunk_delivers_the_chunk_first(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 99, i;
    int ready = 0;
    (void)state;
    for (i = 0; i < MCRX__RX_CHUNK; i++)
        push_own(a, "A");
    fake_push_failure(a, MCRX_ERROR_RECEIVE_FAILED, ECONNREFUSED, REFUSED);
    /* A success with the chunk, as mcrx_context_recv_batch: a caller that
     * drops slots on an error status would otherwise lose them. */
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 100, &got), 0);
    assert_int_equal(got, MCRX__RX_CHUNK);
    assert_int_equal(mcrx_subscription_wait(a, 0, &ready), 0);
    assert_int_equal(ready, 1);
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 100, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_subscription_last_error_code(a), MCRX_ERROR_RECEIVE_FAILED);
    assert_string_equal(mcrx_subscription_last_error(a), receive_failed_text(a->id));
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 100, &got), 0);
    assert_int_equal(got, 0);
    free(s);
    mcrx_context_free(ctx);
}

#define NOPROTO "MCAST_JOIN_SOURCE_GROUP: Protocol not available (errno 92)"

static void apply_failure_on_join_stays_bound_and_passes_the_kind_through(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "232.1.1.1", "10.0.0.5", NULL, 0);
    char want[256];
    size_t count = 9;
    (void)state;
    fake_fail_next_apply(a, MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED, ENOPROTOOPT,
                         NOPROTO);
    assert_int_equal(mcrx_context_join_subscription(ctx, a->id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx),
                     MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED);
    assert_int_equal(mcrx_context_last_os_error(ctx), ENOPROTOOPT);
    snprintf(want, sizeof want, "%s: %s",
             mcrx_error_message(MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED), NOPROTO);
    assert_string_equal(mcrx_context_last_error(ctx), want);
    assert_int_equal(mcrx_subscription_state(a), MCRX_STATE_BOUND);
    assert_int_equal(metrics_of(a).join_count, 0);
    assert_int_equal(mcrx_context_sockets(ctx, NULL, 0, &count), 0);
    assert_int_equal(count, 0); /* not watched */
    /* The same through the subscription's own call. */
    fake_fail_next_apply(a, MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED, ENOPROTOOPT,
                         NOPROTO);
    assert_int_equal(mcrx_subscription_join_group(a), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_subscription_last_error_code(a),
                     MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED);
    assert_string_equal(mcrx_subscription_last_error(a), want);
    assert_int_equal(mcrx_subscription_state(a), MCRX_STATE_BOUND);
    /* The failure was once: the next join goes through. */
    assert_int_equal(mcrx_context_join_subscription(ctx, a->id), 0);
    assert_int_equal(mcrx_subscription_state(a), MCRX_STATE_JOINED);
    mcrx_context_free(ctx);
}

/* ---- membership as data --------------------------------------------------------------- */

static void expect_filter(const fake_filter *f, const mcrx_ip *group, int mode,
                          const mcrx_ip *source) {
    assert_true(mcrx_ip_equal(&f->group, group));
    assert_int_equal(f->mode, mode);
    assert_int_equal(f->nsources, source != NULL);
    if (source != NULL)
        assert_true(mcrx_ip_equal(&f->sources[0], source));
}

static void asm_join_applies_INCLUDE_none_to_EXCLUDE_none_and_leave_the_reverse(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "ff0e::101", NULL, NULL, 0);
    const fake_apply *log;
    size_t n;
    (void)state;
    fake_applies(a, &n);
    assert_int_equal(n, 0); /* add applies nothing */
    assert_int_equal(mcrx_context_join_subscription(ctx, a->id), 0);
    assert_int_equal(mcrx_context_leave_subscription(ctx, a->id), 0);
    log = fake_applies(a, &n);
    assert_int_equal(n, 2);
    expect_filter(&log[0].from, &a->cfg.group, MCRX__INCLUDE, NULL);
    expect_filter(&log[0].to, &a->cfg.group, MCRX__EXCLUDE, NULL);
    expect_filter(&log[1].from, &a->cfg.group, MCRX__EXCLUDE, NULL);
    expect_filter(&log[1].to, &a->cfg.group, MCRX__INCLUDE, NULL);
    assert_int_equal(metrics_of(a).join_count, 1);
    assert_int_equal(metrics_of(a).leave_count, 1);
    mcrx_context_free(ctx);
}

static void ssm_join_applies_INCLUDE_none_to_INCLUDE_source_and_leave_the_reverse(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "232.1.1.1", "10.0.0.5", NULL, 1);
    mcrx_ip s = ip("10.0.0.5");
    const fake_apply *log;
    slots *sl = slots_new();
    size_t n, got = 9;
    (void)state;
    push_own(a, "queued");
    assert_int_equal(mcrx_context_leave_subscription(ctx, a->id), 0);
    log = fake_applies(a, &n);
    assert_int_equal(n, 2);
    expect_filter(&log[0].from, &a->cfg.group, MCRX__INCLUDE, NULL);
    expect_filter(&log[0].to, &a->cfg.group, MCRX__INCLUDE, &s);
    expect_filter(&log[1].from, &a->cfg.group, MCRX__INCLUDE, &s);
    expect_filter(&log[1].to, &a->cfg.group, MCRX__INCLUDE, NULL);
    /* Left, it is no longer watched nor receivable. */
    assert_int_equal(mcrx_context_recv_batch(ctx, sl->dg, 8, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_subscription_recv(a, sl->dg, &got), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_subscription_last_error_code(a), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    assert_int_equal(fake_queued(a), 1);
    free(sl);
    mcrx_context_free(ctx);
}

/* ---- the socket-list tier ----------------------------------------------------------------- */

static void socket_list_context_has_no_single_fd_and_says_NOT_SUPPORTED(void **state) {
    mcrx_context *ctx = fake_context(1);
    (void)state;
    assert_int_equal(mcrx_context_fd(ctx), MCRX_SOCK_INVALID);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NOT_SUPPORTED);
    assert_int_equal(strncmp(mcrx_context_last_error(ctx), "MCRX: ", 6), 0);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "mcrx_context_sockets"));
    mcrx_context_free(ctx);
}

static void socket_list_context_lists_joined_handles_in_id_order(void **state) {
    mcrx_context *ctx = fake_context(1);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 0); /* bound only */
    mcrx_subscription *c = add_sub(ctx, "239.1.1.3", NULL, NULL, 1);
    mcrx_sock socks[4] = {-5, -5, -5, -5};
    size_t count = 99;
    (void)state;
    assert_int_equal(mcrx_context_sockets(ctx, NULL, 0, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(mcrx_context_sockets(ctx, socks, 4, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(socks[0], mcrx_subscription_sock(a));
    assert_int_equal(socks[1], mcrx_subscription_sock(c));
    assert_int_equal(socks[2], -5);
    /* A short array: what fits, and the total. */
    socks[0] = -5;
    assert_int_equal(mcrx_context_sockets(ctx, socks, 1, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(socks[0], mcrx_subscription_sock(a));
    assert_int_equal(socks[1], mcrx_subscription_sock(c)); /* untouched from before */
    assert_int_equal(mcrx_context_join_subscription(ctx, b->id), 0);
    assert_int_equal(mcrx_context_sockets(ctx, socks, 4, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(socks[1], mcrx_subscription_sock(b));
    assert_int_equal(mcrx_context_sockets(ctx, socks, 4, NULL), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_sockets(ctx, NULL, 1, &count), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_sockets(NULL, socks, 4, &count), MCRX_STATUS_INVALID_ARGUMENT);
    mcrx_context_free(ctx);
}

static void socket_list_context_waits_and_receives_fairly(void **state) {
    mcrx_context *ctx = fake_context(1);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    static const char *const want[] = {"A1", "B1", "A2"};
    slots *s = slots_new();
    int ready = 9;
    (void)state;
    assert_int_equal(mcrx_context_wait(ctx, 0, &ready), 0);
    assert_int_equal(ready, 0);
    push_own(b, "B1");
    push_own(a, "A1");
    push_own(a, "A2");
    assert_int_equal(mcrx_context_wait(ctx, 1000, &ready), 0);
    assert_int_equal(ready, 1);
    expect_batch(ctx, s, 1, want, 1);
    expect_batch(ctx, s, 8, want + 1, 2);
    assert_int_equal(mcrx_context_wait(ctx, 0, &ready), 0);
    assert_int_equal(ready, 0);
    free(s);
    mcrx_context_free(ctx);
}

/* The background receiver sleeping in a socket-list wait with no timeout
 * must see a subscription joined meanwhile: a list wait polls the members it
 * saw when it began, so a join has to end it. */
static volatile int late_join_delivered;

static void count_packet(const McrxPacketView *v, void *user) {
    (void)v;
    (void)user;
    __atomic_add_fetch(&late_join_delivered, 1, __ATOMIC_SEQ_CST);
}

static void socket_list_wait_sees_a_subscription_joined_while_it_sleeps(void **state) {
    mcrx_context *ctx = fake_context(1);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 0);
    struct timespec pause = {0, 100 * 1000000};
    int i;
    (void)state;
    late_join_delivered = 0;
    push_own(a, "late"); /* queued before the join; the receiver is not watching it */
    assert_int_equal(mcrx_context_start(ctx, count_packet, NULL, 0), MCRX_STATUS_OK);
    nanosleep(&pause, NULL); /* the receiver is now asleep with nothing to watch */
    assert_int_equal(mcrx_context_join_subscription(ctx, a->id), 0);
    for (i = 0; i < 200 && __atomic_load_n(&late_join_delivered, __ATOMIC_SEQ_CST) == 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    assert_int_equal(mcrx_context_stop(ctx), MCRX_STATUS_OK);
    assert_int_equal(late_join_delivered, 1);
    mcrx_context_free(ctx);
}

/* ---- control messages -------------------------------------------------------------------- */

/* Where crafted buffers are put together (aligned as the kernel's are). */
typedef union stage {
    struct cmsghdr align;
    unsigned char b[512];
} stage;

/* Writes one item at off; returns the offset of the next (padded). An item
 * at 0 starts a new buffer: the rest of the stage (padding) is zeroed. */
static size_t put(stage *st, size_t off, int level, int type, const void *data, size_t dlen) {
    struct cmsghdr h;
    if (off == 0)
        memset(st, 0, sizeof *st);
    memset(&h, 0, sizeof h);
    h.cmsg_len = CMSG_LEN(dlen);
    h.cmsg_level = level;
    h.cmsg_type = type;
    memcpy(st->b + off, &h, sizeof h);
    memcpy(st->b + off + CMSG_LEN(0), data, dlen);
    return off + CMSG_SPACE(dlen);
}

static void set_len(stage *st, size_t off, size_t cmsg_len) {
    struct cmsghdr h;
    memcpy(&h, st->b + off, sizeof h);
    h.cmsg_len = cmsg_len;
    memcpy(st->b + off, &h, sizeof h);
}

/* Parses the first len bytes of st from a heap block of exactly len bytes.
 * info starts out filled with garbage, as the parser must set valid. */
static mcrx__rxinfo parse(const stage *st, size_t len) {
    mcrx__rxinfo info;
    unsigned char *p = malloc(len > 0 ? len : 1);
    assert_non_null(p);
    memcpy(p, st->b, len);
    memset(&info, 0xa5, sizeof info);
    mcrx__plat_parse_cmsgs(p, len, &info);
    free(p);
    return info;
}

static struct in_pktinfo pktinfo4(const char *dst, int ifindex) {
    struct in_pktinfo pi;
    mcrx_ip a = ip(dst);
    memset(&pi, 0, sizeof pi);
    memcpy(&pi.ipi_addr, a.bytes, 4);
    pi.ipi_ifindex = ifindex;
    return pi;
}

static void cmsgs_ipv4_pktinfo_gives_destination_and_ingress(void **state) {
    stage st;
    struct in_pktinfo pi = pktinfo4("239.1.2.3", 7);
    mcrx_ip want = ip("239.1.2.3");
    size_t len = put(&st, 0, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    mcrx__rxinfo info = parse(&st, len);
    (void)state;
    assert_int_equal(info.valid, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF);
    assert_true(mcrx_ip_equal(&info.dst, &want));
    assert_int_equal(info.ifindex, 7);
    /* Interface 0 (not known): a destination, no ingress report. */
    pi = pktinfo4("239.1.2.3", 0);
    len = put(&st, 0, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    info = parse(&st, len);
    assert_int_equal(info.valid, MCRX_META_DESTINATION);
}

static void cmsgs_ipv6_pktinfo_gives_destination_and_ingress(void **state) {
    stage st;
    struct in6_pktinfo pi;
    mcrx_ip want = ip("ff3e::8000:1");
    mcrx__rxinfo info;
    size_t len;
    (void)state;
    memset(&pi, 0, sizeof pi);
    memcpy(&pi.ipi6_addr, want.bytes, 16);
    pi.ipi6_ifindex = 12;
    len = put(&st, 0, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    info = parse(&st, len);
    assert_int_equal(info.valid, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF);
    assert_int_equal(info.dst.family, MCRX_IP_V6);
    assert_true(mcrx_ip_equal(&info.dst, &want));
    assert_int_equal(info.ifindex, 12);
}

static void cmsgs_timestamp_drops_ttl_and_hoplimit_in_one_chain(void **state) {
    stage st;
    struct timespec ts = {1700000000, 123456789};
    uint32_t drops = 42;
    int ttl = 64, hops = 5;
    struct in_pktinfo pi = pktinfo4("239.1.2.3", 2);
    size_t off = 0;
    mcrx__rxinfo info;
    (void)state;
    off = put(&st, off, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof ts);
    off = put(&st, off, SOL_SOCKET, SO_RXQ_OVFL, &drops, sizeof drops);
    off = put(&st, off, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    off = put(&st, off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    info = parse(&st, off);
    assert_int_equal(info.valid, MCRX_META_TIMESTAMP | MCRX_META_DROPS | MCRX_META_TTL |
                                     MCRX_META_DESTINATION | MCRX_META_INGRESS_IF);
    assert_int_equal(info.ts_ns, 1700000000LL * 1000000000 + 123456789);
    assert_int_equal(info.drops, 42);
    assert_int_equal(info.ttl, 64);
    assert_int_equal(info.ifindex, 2);
    off = put(&st, 0, IPPROTO_IPV6, IPV6_HOPLIMIT, &hops, sizeof hops);
    info = parse(&st, off);
    assert_int_equal(info.valid, MCRX_META_TTL);
    assert_int_equal(info.ttl, 5);
}

static void cmsgs_timestamp_out_of_range_is_no_timestamp(void **state) {
    stage st;
    struct timespec bad[3];
    size_t i, len;
    (void)state;
    bad[0].tv_sec = INT64_MAX / 2;
    bad[0].tv_nsec = 0;
    bad[1].tv_sec = 1;
    bad[1].tv_nsec = -1;
    bad[2].tv_sec = 1;
    bad[2].tv_nsec = 1000000000;
    for (i = 0; i < 3; i++) {
        len = put(&st, 0, SOL_SOCKET, SCM_TIMESTAMPNS, &bad[i], sizeof bad[i]);
        assert_int_equal(parse(&st, len).valid, 0);
    }
}

static void cmsgs_length_past_the_end_reads_only_what_is_there(void **state) {
    stage st;
    struct in_pktinfo pi = pktinfo4("239.1.2.3", 7);
    uint32_t drops = 1;
    size_t len;
    mcrx__rxinfo info;
    (void)state;
    /* The item claims 1000 bytes; the buffer ends after its data. */
    len = put(&st, 0, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    set_len(&st, 0, 1000);
    info = parse(&st, len);
    assert_int_equal(info.valid, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF);
    assert_int_equal(info.ifindex, 7);
    /* The buffer ends inside the data: nothing. */
    set_len(&st, 0, 1000);
    assert_int_equal(parse(&st, CMSG_LEN(sizeof pi) - 1).valid, 0);
    /* A second item whose length runs past the end, its data cut. */
    len = put(&st, 0, SOL_SOCKET, SO_RXQ_OVFL, &drops, sizeof drops);
    put(&st, len, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    set_len(&st, len, (size_t)-1);
    info = parse(&st, len + CMSG_LEN(4));
    assert_int_equal(info.valid, MCRX_META_DROPS);
    assert_int_equal(info.drops, 1);
}

static void cmsgs_zero_or_sub_header_length_ends_the_chain(void **state) {
    stage st;
    int ttl = 9;
    size_t lens[] = {0, 1, sizeof(struct cmsghdr) - 1}, i, off;
    (void)state;
    for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        off = put(&st, 0, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
        off = put(&st, off, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
        set_len(&st, 0, lens[i]);
        assert_int_equal(parse(&st, off).valid, 0);
        /* The same after a good item: the good one stands. */
        set_len(&st, 0, CMSG_LEN(sizeof ttl));
        set_len(&st, CMSG_SPACE(sizeof ttl), lens[i]);
        assert_int_equal(parse(&st, off).valid, MCRX_META_TTL);
    }
}

static void cmsgs_data_shorter_than_the_struct_is_skipped_and_the_chain_goes_on(void **state) {
    stage st;
    struct in_pktinfo pi = pktinfo4("239.1.2.3", 7);
    struct timespec ts = {5, 6};
    int ttl = 33;
    size_t off = 0;
    mcrx__rxinfo info;
    (void)state;
    off = put(&st, off, IPPROTO_IP, IP_PKTINFO, &pi, 8);       /* 8 < 12 */
    off = put(&st, off, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, 4);  /* 4 < 16 */
    off = put(&st, off, SOL_SOCKET, SO_RXQ_OVFL, &ttl, 2);     /* 2 < 4 */
    off = put(&st, off, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    info = parse(&st, off);
    assert_int_equal(info.valid, MCRX_META_TTL);
    assert_int_equal(info.ttl, 33);
}

static void cmsgs_unknown_items_are_skipped_and_the_next_is_parsed(void **state) {
    stage st;
    unsigned char junk[40];
    uint32_t drops = 77;
    size_t off = 0;
    mcrx__rxinfo info;
    (void)state;
    memset(junk, 0xff, sizeof junk);
    off = put(&st, off, 12345, 1, junk, sizeof junk);               /* unknown level */
    off = put(&st, off, IPPROTO_IP, 9999, junk, 3);                 /* unknown type */
    off = put(&st, off, SOL_SOCKET, SCM_RIGHTS, junk, 0);           /* known, not ours */
    off = put(&st, off, SOL_SOCKET, SO_RXQ_OVFL, &drops, sizeof drops);
    info = parse(&st, off);
    assert_int_equal(info.valid, MCRX_META_DROPS);
    assert_int_equal(info.drops, 77);
}

static void cmsgs_controllen_off_the_alignment_stays_inside(void **state) {
    stage st;
    uint32_t drops = 3;
    int ttl = 4;
    struct in_pktinfo pi = pktinfo4("239.1.2.3", 7);
    size_t off, len;
    mcrx__rxinfo info;
    (void)state;
    /* One item, unpadded: controllen 28. */
    len = put(&st, 0, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    info = parse(&st, CMSG_LEN(sizeof pi));
    assert_int_equal(info.valid, MCRX_META_DESTINATION | MCRX_META_INGRESS_IF);
    (void)len;
    /* Two items, the last unpadded (52 bytes). The C library's walk may
     * stop before it; if it does not, it is read right. */
    off = put(&st, 0, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    put(&st, off, SOL_SOCKET, SO_RXQ_OVFL, &drops, sizeof drops);
    info = parse(&st, off + CMSG_LEN(sizeof drops));
    assert_true(info.valid & MCRX_META_TTL);
    assert_int_equal(info.ttl, 4);
    if (info.valid & MCRX_META_DROPS)
        assert_int_equal(info.drops, 3);
    /* A header and a few bytes more. */
    info = parse(&st, sizeof(struct cmsghdr) + 1);
    assert_int_equal(info.valid, 0);
}

static void cmsgs_empty_short_or_null_buffers_give_nothing(void **state) {
    stage st;
    int ttl = 4;
    size_t len;
    mcrx__rxinfo info;
    (void)state;
    put(&st, 0, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    for (len = 0; len < sizeof(struct cmsghdr); len++)
        assert_int_equal(parse(&st, len).valid, 0);
    memset(&info, 0xa5, sizeof info);
    mcrx__plat_parse_cmsgs(NULL, 64, &info);
    assert_int_equal(info.valid, 0);
}

/* Every cut of a valid chain, and every cmsg_len the first item could
 * claim, from a block of exactly the cut's length: never a read past it
 * (AddressSanitizer), and what is reported is what was written. */
static void cmsgs_every_cut_and_every_first_length_stays_inside_the_buffer(void **state) {
    stage st, base;
    struct timespec ts = {1, 2};
    uint32_t drops = 5;
    int ttl = 6;
    struct in_pktinfo pi = pktinfo4("239.1.2.3", 8);
    size_t off = 0, cut, l;
    (void)state;
    off = put(&base, off, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof ts);
    off = put(&base, off, SOL_SOCKET, SO_RXQ_OVFL, &drops, sizeof drops);
    off = put(&base, off, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    off = put(&base, off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    for (cut = 0; cut <= off; cut++) {
        for (l = 0; l <= off + 16; l++) {
            mcrx__rxinfo info;
            st = base;
            set_len(&st, 0, l);
            info = parse(&st, cut);
            if (info.valid & MCRX_META_TIMESTAMP)
                assert_int_equal(info.ts_ns, 1000000002);
            if (info.valid & MCRX_META_DROPS)
                assert_int_equal(info.drops, 5);
            if (info.valid & MCRX_META_TTL)
                assert_int_equal(info.ttl, 6);
            if (info.valid & MCRX_META_INGRESS_IF)
                assert_int_equal(info.ifindex, 8);
        }
        /* Untouched lengths: every item that fits whole is read. */
        {
            mcrx__rxinfo info = parse(&base, cut);
            if (cut >= CMSG_LEN(sizeof ts))
                assert_true(info.valid & MCRX_META_TIMESTAMP);
            if (cut >= off)
                assert_true(info.valid & MCRX_META_INGRESS_IF);
        }
    }
}

/* ---- fetching ahead for one-datagram calls -------------------------------------- */

/* One datagram from sub by its own call; "" when none. */
static const char *sub_recv_one(mcrx_subscription *sub, slots *s) {
    size_t got = 99;
    mcrx_datagrams_init(s->dg, 1, s->arena, SLOT_SIZE, s->meta);
    assert_int_equal(mcrx_subscription_recv(sub, s->dg, &got), 0);
    assert_true(got <= 1);
    return got == 1 ? text_of(&s->dg[0]) : "";
}

/* 1 if h is readable now. */
static int readable(mcrx_sock h) {
    int ready = 0;
    mcrx__err e;
    assert_int_equal(mcrx__wait_handle(h, 0, &ready, &e), 0);
    return ready;
}

static void staging_fetches_ahead_in_one_backend_call_with_identical_metadata(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    char text[8];
    size_t i, max_n = 0;
    (void)state;
    for (i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "A%zu", i);
        push_own(a, text);
    }
    for (i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "A%zu", i);
        assert_string_equal(sub_recv_one(a, s), text);
        /* Staged or not, the same metadata as the backend reported. */
        assert_true(s->meta[0].valid & MCRX_META_DESTINATION);
        assert_true(mcrx_ip_equal(&s->meta[0].destination_local_ip, &a->cfg.group));
        assert_int_equal(s->meta[0].ttl, 7);
        assert_int_equal(s->dg[0].source_port, 4000);
        assert_int_equal(s->dg[0].subscription_id, a->id);
        assert_int_equal(s->dg[0].wire_len, strlen(text));
        if (i == 1) /* the second call fetched itself and 16 more */
            assert_non_null(a->stage);
    }
    assert_string_equal(sub_recv_one(a, s), "");
    /* Direct (A0), ahead (A1 + 16 staged), ahead (A18, A19 + nothing), and
     * the call that found nothing. */
    assert_int_equal(fake_recv_calls(a, &max_n), 4);
    assert_int_equal(max_n, MCRX__STAGE_SLOTS + 1);
    assert_null(a->stage);
    assert_int_equal(ctx->nstaged, 0);
    expect_counts(a, 20, 0, 0, 0, 0);
    free(s);
    mcrx_context_free(ctx);
}

static void staging_keeps_the_fair_order_A1_B1_A2_across_the_context(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    char text[8];
    size_t i, max_n = 0;
    (void)state;
    for (i = 0; i < 40; i++) {
        snprintf(text, sizeof text, "A%zu", i);
        push_own(a, text);
        snprintf(text, sizeof text, "B%zu", i);
        push_own(b, text);
    }
    for (i = 0; i < 80; i++) {
        snprintf(text, sizeof text, "%c%zu", i % 2 ? 'B' : 'A', i / 2);
        assert_string_equal(ctx_recv_one(ctx, s), text);
    }
    assert_string_equal(ctx_recv_one(ctx, s), "");
    fake_recv_calls(a, &max_n);
    assert_int_equal(max_n, MCRX__STAGE_SLOTS + 1);
    assert_true(fake_recv_calls(b, NULL) < 10);
    free(s);
    mcrx_context_free(ctx);
}

static void staging_discards_foreign_datagrams_as_the_direct_path_does(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    (void)state;
    push_own(a, "A0");
    push_own(a, "A1");
    push_foreign(a, 3);
    push_own(a, "A2");
    push_to(a, "nopkt", NULL, NULL, 0, 0); /* isolated: kept without pktinfo */
    push_foreign(a, 1);
    assert_string_equal(sub_recv_one(a, s), "A0");
    assert_string_equal(sub_recv_one(a, s), "A1");
    assert_string_equal(sub_recv_one(a, s), "A2");
    assert_string_equal(sub_recv_one(a, s), "nopkt");
    assert_string_equal(sub_recv_one(a, s), "");
    expect_counts(a, 4, 4, 0, 0, 0);
    free(s);
    mcrx_context_free(ctx);
}

static void staging_truncates_as_the_callers_slot_and_not_beyond_a_slot_it_cannot_stage(
    void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    unsigned char *buf = malloc(16), *big = malloc(MCRX__STAGE_BYTES);
    static const size_t wire[] = {100, 16, 8, 17, 3000};
    mcrx_datagram dg;
    fake_dgram d;
    size_t got = 0, i, j, max_n = 0;
    (void)state;
    assert_non_null(buf);
    assert_non_null(big);
    memset(&d, 0, sizeof d);
    d.source = ip("10.0.0.1");
    d.info.dst = a->cfg.group;
    d.info.valid = MCRX_META_DESTINATION;
    for (j = 0; j < 2; j++)
        for (i = 0; i < 5; i++) {
            d.wire_len = wire[i]; /* bytes 0, 1, 2, ... */
            fake_push(a, &d);
        }
    /* A 16-byte slot: the first datagram directly, the next fetches ahead. */
    mcrx_datagram_init(&dg, buf, 16);
    for (i = 0; i < 5; i++) {
        assert_int_equal(mcrx_subscription_recv(a, &dg, &got), 0);
        assert_int_equal(got, 1);
        assert_int_equal(dg.wire_len, wire[i]);
        assert_int_equal(dg.len, wire[i] < 16 ? wire[i] : 16);
        assert_int_equal(dg.flags, wire[i] > 16 ? MCRX_DATAGRAM_TRUNCATED : 0);
        for (j = 0; j < dg.len; j++)
            assert_int_equal(buf[j], j);
    }
    fake_recv_calls(a, &max_n);
    assert_int_equal(max_n, MCRX__STAGE_SLOTS + 1);
    assert_non_null(a->stage);
    /* A larger slot now: what was staged under 16 bytes keeps the cut it got
     * (flagged, with the true size); the rest of the queue arrives whole. */
    mcrx_datagram_init(&dg, big, MCRX__STAGE_BYTES);
    for (i = 0; i < 5; i++) {
        assert_int_equal(mcrx_subscription_recv(a, &dg, &got), 0);
        assert_int_equal(got, 1);
        assert_int_equal(dg.wire_len, wire[i]);
        assert_int_equal(dg.len, wire[i] < 16 ? wire[i] : 16);
        assert_int_equal(dg.flags, wire[i] > 16 ? MCRX_DATAGRAM_TRUNCATED : 0);
    }
    assert_null(a->stage);
    /* A slot too large for two in a stage is never staged: one per call. */
    d.wire_len = 3000;
    for (i = 0; i < 4; i++)
        fake_push(a, &d);
    for (i = 0; i < 4; i++) {
        size_t before = fake_recv_calls(a, NULL);
        assert_int_equal(mcrx_subscription_recv(a, &dg, &got), 0);
        assert_int_equal(got, 1);
        assert_int_equal(dg.len, 3000);
        assert_int_equal(dg.flags, 0);
        assert_int_equal(fake_recv_calls(a, NULL), before + 1);
        assert_null(a->stage);
    }
    assert_int_equal(metrics_of(a).truncated, 6);
    free(buf);
    free(big);
    mcrx_context_free(ctx);
}

static void staged_datagrams_show_on_every_readiness_path_of_an_epoll_context(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    mcrx_sock fd = mcrx_context_fd(ctx);
    int ready = 9;
    (void)state;
    push_own(a, "A0");
    push_own(a, "A1");
    push_own(a, "A2");
    push_own(a, "A3");
    assert_string_equal(sub_recv_one(a, s), "A0");
    assert_string_equal(sub_recv_one(a, s), "A1"); /* A2, A3 staged: the socket is empty */
    assert_int_equal(fake_queued(a), 0);
    assert_false(readable(a->watch.handle));
    assert_true(readable(fd));
    assert_int_equal(mcrx_context_wait(ctx, 0, &ready), 0);
    assert_int_equal(ready, 1);
    assert_int_equal(mcrx_subscription_wait(a, 0, &ready), 0);
    assert_int_equal(ready, 1);
    assert_int_equal(mcrx_subscription_wait(b, 0, &ready), 0);
    assert_int_equal(ready, 0);
    /* The context's own receive finds them though the socket is quiet. */
    assert_string_equal(ctx_recv_one(ctx, s), "A2");
    assert_string_equal(ctx_recv_one(ctx, s), "A3");
    assert_string_equal(ctx_recv_one(ctx, s), "");
    assert_false(readable(fd));
    assert_int_equal(mcrx_context_wait(ctx, 0, &ready), 0);
    assert_int_equal(ready, 0);
    assert_int_equal(mcrx_subscription_wait(a, 0, &ready), 0);
    assert_int_equal(ready, 0);
    /* Drained by the subscription's own calls, the fd goes quiet too. */
    push_own(a, "A4");
    push_own(a, "A5");
    push_own(a, "A6");
    assert_string_equal(sub_recv_one(a, s), "A4");
    assert_string_equal(sub_recv_one(a, s), "A5");
    assert_true(readable(fd));
    assert_string_equal(sub_recv_one(a, s), "A6");
    assert_string_equal(sub_recv_one(a, s), "");
    assert_false(readable(fd));
    free(s);
    mcrx_context_free(ctx);
}

static void socket_list_and_raw_socket_callers_get_no_staging(void **state) {
    mcrx_context *list = fake_context(1), *ctx = fake_context(0);
    mcrx_subscription *l = add_sub(list, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    mcrx_sock socks[2];
    size_t i, n = 0, max_n = 0;
    (void)state;
    for (i = 0; i < 5; i++) {
        push_own(l, "L");
        push_own(a, "A");
        push_own(b, "B");
    }
    /* The socket-list tier: its callers watch the sockets themselves. */
    for (i = 0; i < 5; i++)
        assert_string_equal(ctx_recv_one(list, s), "L");
    fake_recv_calls(l, &max_n);
    assert_int_equal(max_n, 1);
    /* Asking for a subscription's socket turns staging off for it... */
    assert_int_equal(mcrx_subscription_sock(a), a->ep.sock);
    for (i = 0; i < 5; i++)
        assert_string_equal(sub_recv_one(a, s), "A");
    fake_recv_calls(a, &max_n);
    assert_int_equal(max_n, 1);
    /* ...and for the socket list, for the context. */
    assert_string_equal(sub_recv_one(b, s), "B");
    assert_string_equal(sub_recv_one(b, s), "B"); /* fetched ahead: 3 staged */
    assert_int_equal(b->stage->len, 3);
    assert_int_equal(mcrx_context_sockets(ctx, socks, 2, &n), 0);
    push_own(b, "B");
    push_own(b, "B");
    for (i = 0; i < 5; i++) /* the staged ones first, then one per call */
        assert_string_equal(sub_recv_one(b, s), "B");
    assert_string_equal(sub_recv_one(b, s), "");
    assert_int_equal(fake_recv_calls(b, &max_n), 5);
    free(s);
    mcrx_context_free(list);
    mcrx_context_free(ctx);
}

static void leave_drops_staged_datagrams_and_take_keeps_them(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    mcrx_subscription *taken = NULL;
    slots *s = slots_new();
    uint64_t bid = b->id;
    int ready = 0;
    (void)state;
    push_own(a, "A0");
    push_own(a, "A1");
    push_own(a, "A2");
    push_own(b, "B0");
    push_own(b, "B1");
    push_own(b, "B2");
    push_own(b, "B3");
    assert_string_equal(ctx_recv_one(ctx, s), "A0");
    assert_string_equal(ctx_recv_one(ctx, s), "B0");
    assert_string_equal(ctx_recv_one(ctx, s), "A1"); /* A2 staged */
    assert_string_equal(ctx_recv_one(ctx, s), "B1"); /* B2, B3 staged */
    assert_int_equal(ctx->nstaged, 2);
    /* Leaving drops A's staged datagram: none arrives after the leave. */
    assert_int_equal(mcrx_context_leave_subscription(ctx, a->id), 0);
    assert_null(a->stage);
    assert_int_equal(ctx->nstaged, 1);
    assert_int_equal(mcrx_context_join_subscription(ctx, a->id), 0);
    push_own(a, "A9");
    /* Taking B hands its staged datagrams over with it. */
    assert_int_equal(mcrx_context_take_subscription(ctx, bid, &taken), 0);
    assert_ptr_equal(taken, b);
    assert_int_equal(ctx->nstaged, 0);
    /* Its socket cannot be handed back while datagrams fetched from it are
     * held: that would drop them silently. */
    assert_int_equal(mcrx_subscription_into_sock(taken), MCRX_SOCK_INVALID);
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_BUSY);
    assert_non_null(strstr(mcrx_last_error(), "2 datagrams fetched ahead"));
    assert_int_equal(mcrx_subscription_wait(taken, 0, &ready), 0);
    assert_int_equal(ready, 1);
    assert_string_equal(sub_recv_one(taken, s), "B2");
    assert_string_equal(sub_recv_one(taken, s), "B3");
    assert_null(taken->stage);
    assert_string_equal(sub_recv_one(taken, s), "");
    assert_string_equal(ctx_recv_one(ctx, s), "A9");
    assert_string_equal(ctx_recv_one(ctx, s), "");
    /* A taken subscription with staged data, left and freed, loses it. */
    push_own(taken, "T0");
    push_own(taken, "T1");
    push_own(taken, "T2");
    assert_string_equal(sub_recv_one(taken, s), "T0");
    assert_string_equal(sub_recv_one(taken, s), "T1"); /* no context: no staging */
    assert_null(taken->stage);
    mcrx_subscription_free(taken);
    free(s);
    mcrx_context_free(ctx);
}

static void removing_or_freeing_with_staged_datagrams_frees_them(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    mcrx_subscription *b = add_sub(ctx, "239.1.1.2", NULL, NULL, 1);
    slots *s = slots_new();
    size_t i;
    (void)state;
    for (i = 0; i < 6; i++) {
        push_own(a, "A");
        push_own(b, "B");
    }
    assert_string_equal(sub_recv_one(a, s), "A");
    assert_string_equal(sub_recv_one(a, s), "A");
    assert_string_equal(sub_recv_one(b, s), "B");
    assert_string_equal(sub_recv_one(b, s), "B");
    assert_int_equal(ctx->nstaged, 2);
    assert_int_equal(mcrx_context_remove_subscription(ctx, a->id), 0);
    assert_int_equal(ctx->nstaged, 1);
    /* b still holds staged datagrams when the context goes: ASan's leak
     * check sees that they are freed. */
    free(s);
    mcrx_context_free(ctx);
}

static void batch_call_after_staging_hands_out_the_staged_then_the_socket(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    char text[8];
    size_t i, got = 0;
    (void)state;
    for (i = 0; i < 30; i++) {
        snprintf(text, sizeof text, "A%zu", i);
        push_own(a, text);
    }
    assert_string_equal(sub_recv_one(a, s), "A0");
    assert_string_equal(sub_recv_one(a, s), "A1");
    assert_non_null(a->stage);
    mcrx_datagrams_init(s->dg, SLOTS, s->arena, SLOT_SIZE, s->meta);
    assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, SLOTS, &got), 0);
    assert_int_equal(got, 28);
    for (i = 0; i < 28; i++) {
        snprintf(text, sizeof text, "A%zu", i + 2);
        assert_string_equal(text_of(&s->dg[i]), text);
    }
    assert_null(a->stage);
    free(s);
    mcrx_context_free(ctx);
}

static void failure_met_while_fetching_ahead_follows_the_datagrams_before_it(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    size_t got = 9;
    (void)state;
    push_own(a, "A0");
    push_own(a, "A1");
    push_own(a, "A2");
    fake_push_failure(a, MCRX_ERROR_RECEIVE_FAILED, ECONNREFUSED, "scripted");
    push_own(a, "A3");
    assert_string_equal(sub_recv_one(a, s), "A0");
    assert_string_equal(sub_recv_one(a, s), "A1");
    assert_string_equal(sub_recv_one(a, s), "A2");
    mcrx_datagrams_init(s->dg, 1, s->arena, SLOT_SIZE, s->meta);
    assert_int_equal(mcrx_subscription_recv(a, s->dg, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_subscription_last_error_code(a), MCRX_ERROR_RECEIVE_FAILED);
    assert_string_equal(sub_recv_one(a, s), "A3");
    free(s);
    mcrx_context_free(ctx);
}

static void batch_calls_never_fetch_ahead_even_for_their_last_slot(void **state) {
    mcrx_context *ctx = fake_context(0);
    mcrx_subscription *a = add_sub(ctx, "239.1.1.1", NULL, NULL, 1);
    slots *s = slots_new();
    size_t i, got = 0, max_n = 0;
    (void)state;
    for (i = 0; i < 100; i++)
        push_own(a, "A");
    /* 65 slots: a turn of 64, then a share of one for the same subscription. */
    for (i = 0; i < 2; i++) {
        mcrx_datagrams_init(s->dg, 65, s->arena, SLOT_SIZE, s->meta);
        assert_int_equal(mcrx_context_recv_batch(ctx, s->dg, 65, &got), 0);
        assert_null(a->stage);
    }
    assert_int_equal(got, 35);
    fake_recv_calls(a, &max_n);
    assert_int_equal(max_n, MCRX__RX_CHUNK);
    mcrx_datagrams_init(s->dg, 1, s->arena, SLOT_SIZE, s->meta);
    assert_int_equal(mcrx_subscription_recv_batch(a, s->dg, 1, &got), 0);
    assert_int_equal(got, 0);
    assert_null(a->stage);
    free(s);
    mcrx_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_keeps_own_and_discards_other_group_and_unicast_destinations),
        cmocka_unit_test(classify_discards_other_sources_on_ssm),
        cmocka_unit_test(classify_on_an_interface_set_keeps_only_joined_interfaces),
        cmocka_unit_test(classify_discards_other_ingress_interfaces),
        cmocka_unit_test(classify_discards_datagrams_without_pktinfo_unless_isolated),
        cmocka_unit_test(classify_reasons_in_one_batch_are_counted_each_and_in_the_context_total),
        cmocka_unit_test(fair_queue_one_datagram_calls_alternate_A1_B1_A2_B2_A3_B3),
        cmocka_unit_test(fair_queue_batch_takes_turns_of_one_chunk),
        cmocka_unit_test(refill_queues_ready_subscriptions_in_ascending_id_order),
        cmocka_unit_test(a_flooded_subscription_does_not_starve_another),
        cmocka_unit_test(leaving_or_removing_a_queued_subscription_takes_it_out_of_the_queue),
        cmocka_unit_test(more_ready_subscriptions_than_one_refill_holds_all_arrive),
        cmocka_unit_test(batch_above_the_chunk_is_served_in_chunks_with_exact_counts),
        cmocka_unit_test(batch_of_zero_slots_receives_and_consumes_nothing),
        cmocka_unit_test(discard_budget_bounds_a_call_and_the_own_datagram_arrives_later),
        cmocka_unit_test(context_call_stops_after_max_refills_under_a_flood),
        cmocka_unit_test(truncation_keeps_cap_bytes_and_reports_the_wire_length),
        cmocka_unit_test(zero_capacity_slot_gets_no_bytes_and_the_truncated_flag),
        cmocka_unit_test(views_backend_is_copied_into_the_slots_filtered_and_truncated),
        cmocka_unit_test(receive_failure_is_RECEIVE_FAILED_naming_the_subscription),
        cmocka_unit_test(failure_after_datagrams_delivers_them_now_and_the_error_next_call),
        cmocka_unit_test(subscription_batch_failure_after_a_full_chunk_delivers_the_chunk_first),
        cmocka_unit_test(apply_failure_on_join_stays_bound_and_passes_the_kind_through),
        cmocka_unit_test(asm_join_applies_INCLUDE_none_to_EXCLUDE_none_and_leave_the_reverse),
        cmocka_unit_test(ssm_join_applies_INCLUDE_none_to_INCLUDE_source_and_leave_the_reverse),
        cmocka_unit_test(socket_list_context_has_no_single_fd_and_says_NOT_SUPPORTED),
        cmocka_unit_test(socket_list_context_lists_joined_handles_in_id_order),
        cmocka_unit_test(socket_list_context_waits_and_receives_fairly),
        cmocka_unit_test(socket_list_wait_sees_a_subscription_joined_while_it_sleeps),
        cmocka_unit_test(staging_fetches_ahead_in_one_backend_call_with_identical_metadata),
        cmocka_unit_test(staging_keeps_the_fair_order_A1_B1_A2_across_the_context),
        cmocka_unit_test(staging_discards_foreign_datagrams_as_the_direct_path_does),
        cmocka_unit_test(
            staging_truncates_as_the_callers_slot_and_not_beyond_a_slot_it_cannot_stage),
        cmocka_unit_test(staged_datagrams_show_on_every_readiness_path_of_an_epoll_context),
        cmocka_unit_test(socket_list_and_raw_socket_callers_get_no_staging),
        cmocka_unit_test(leave_drops_staged_datagrams_and_take_keeps_them),
        cmocka_unit_test(removing_or_freeing_with_staged_datagrams_frees_them),
        cmocka_unit_test(batch_call_after_staging_hands_out_the_staged_then_the_socket),
        cmocka_unit_test(failure_met_while_fetching_ahead_follows_the_datagrams_before_it),
        cmocka_unit_test(batch_calls_never_fetch_ahead_even_for_their_last_slot),
        cmocka_unit_test(cmsgs_ipv4_pktinfo_gives_destination_and_ingress),
        cmocka_unit_test(cmsgs_ipv6_pktinfo_gives_destination_and_ingress),
        cmocka_unit_test(cmsgs_timestamp_drops_ttl_and_hoplimit_in_one_chain),
        cmocka_unit_test(cmsgs_timestamp_out_of_range_is_no_timestamp),
        cmocka_unit_test(cmsgs_length_past_the_end_reads_only_what_is_there),
        cmocka_unit_test(cmsgs_zero_or_sub_header_length_ends_the_chain),
        cmocka_unit_test(cmsgs_data_shorter_than_the_struct_is_skipped_and_the_chain_goes_on),
        cmocka_unit_test(cmsgs_unknown_items_are_skipped_and_the_next_is_parsed),
        cmocka_unit_test(cmsgs_controllen_off_the_alignment_stays_inside),
        cmocka_unit_test(cmsgs_empty_short_or_null_buffers_give_nothing),
        cmocka_unit_test(cmsgs_every_cut_and_every_first_length_stays_inside_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
