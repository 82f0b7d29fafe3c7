/*
 * Metrics: counters against known traffic, lifetime totals across removal,
 * the kernel's drop counter under a deliberate overflow, kernel timestamps,
 * deltas and samplers, hardware figures, and the heimdall-jsonl-v1 files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mcrx/jsonl.h>

#include "harness.h"

static int64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void drain_all(mcrx_context *ctx, size_t want) {
    static unsigned char arena[64 * 256];
    mcrx_datagram dgs[64];
    size_t total = 0, got = 0;
    while (total < want && th_readable(mcrx_context_fd(ctx), TH_WAIT_MS)) {
        mcrx_datagrams_init(dgs, 64, arena, 256, NULL);
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 64, &got), 0);
        total += got;
    }
    assert_int_equal(total, want);
}

static void counters_match_known_traffic_and_survive_removal(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_metrics sm;
    mcrx_context_metrics cm;
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), i;
    uint64_t a, b;
    unsigned char buf[256];
    mcrx_datagram dg;
    size_t got;
    (void)state;
    a = th_add_join(ctx, "239.9.1.1", port, NULL, NULL);
    b = th_add_join(ctx, "239.9.1.2", port, NULL, NULL);
    for (i = 0; i < 5; i++)
        th_send_str(s, "239.9.1.1", port, "aaaaaaaaaa"); /* 10 bytes */
    for (i = 0; i < 3; i++)
        th_send_str(s, "239.9.1.2", port, "bbbb"); /* 4 bytes */
    th_settle();
    drain_all(ctx, 8);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(mcrx_context_recv(ctx, &dg, &got), 0); /* nothing: a would-block */
    assert_int_equal(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, a), &sm), 0);
    assert_int_equal(sm.packets_received, 5);
    assert_int_equal(sm.bytes_received, 50);
    assert_int_equal(sm.join_count, 1);
    assert_int_equal(sm.leave_count, 0);
    assert_int_equal(sm.receive_errors, 0);
    assert_int_equal(sm.kernel_drops, 0);
    assert_true(sm.has_last);
    assert_int_equal(sm.last_payload_len, 10);
    assert_true(sm.rcvbuf_bytes > 0);
    assert_true(sm.last_receive_ns <= sm.captured_at_ns);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_packets_received, 8);
    assert_int_equal(cm.total_bytes_received, 62);
    assert_int_equal(cm.active_subscriptions, 2);
    assert_int_equal(cm.joined_subscriptions, 2);
    assert_int_equal(cm.subscriptions_added, 2);
    assert_int_equal(cm.total_join_count, 2);
    assert_true(cm.batch_calls >= 1);
    assert_int_equal(cm.batch_packets_received, 8);
    assert_true(cm.total_would_block_count >= 1);

    assert_int_equal(mcrx_context_leave_subscription(ctx, b), 0);
    assert_int_equal(mcrx_context_remove_subscription(ctx, a), 0);
    assert_int_equal(mcrx_context_metrics_get(ctx, &cm), 0);
    assert_int_equal(cm.total_packets_received, 8); /* a's counts stay */
    assert_int_equal(cm.total_bytes_received, 62);
    assert_int_equal(cm.subscriptions_removed, 1);
    assert_int_equal(cm.active_subscriptions, 1);
    assert_int_equal(cm.joined_subscriptions, 0);
    assert_int_equal(cm.total_leave_count, 1);
    close(s);
    mcrx_context_free(ctx);
}

/* A receiver that does not read while a sender floods: what it then reads
 * plus what the kernel says it dropped is exactly what was sent. */
static void overflow_drops_are_counted_exactly(void **state) {
    static unsigned char arena[64 * 256];
    static mcrx_metadata metas[64];
    mcrx_datagram dgs[64];
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    mcrx_subscription_metrics sm;
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), i;
    uint64_t id, received = 0, last_meta_drops = 0;
    const int sent = 3000;
    size_t got;
    (void)state;
    mcrx_subscription_config_parse(&cfg, "239.9.2.1", port, NULL, NULL);
    cfg.rcvbuf_bytes = 8192; /* room for a few dozen small datagrams */
    cfg.rx_options |= MCRX_RX_DROPS;
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    for (i = 0; i < sent; i++)
        th_send(s, "239.9.2.1", port, &i, sizeof i);
    th_settle();
    do {
        mcrx_datagrams_init(dgs, 64, arena, 256, metas);
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 64, &got), 0);
        received += got;
        if (got > 0) {
            assert_true(metas[got - 1].valid & MCRX_META_DROPS);
            last_meta_drops = metas[got - 1].kernel_drops;
        }
    } while (got > 0);
    assert_int_equal(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &sm), 0);
    assert_true(sm.kernel_drops > 0);
    assert_int_equal(received + sm.kernel_drops, sent);
    /* What was queued arrived before the drops; a datagram queued now carries
     * the socket's drop count so far in its metadata. */
    assert_true(last_meta_drops <= sm.kernel_drops);
    th_send(s, "239.9.2.1", port, &i, sizeof i);
    mcrx_datagrams_init(dgs, 1, arena, 256, metas);
    assert_true(th_ctx_recv_wait(ctx, dgs, TH_WAIT_MS));
    assert_int_equal(metas[0].kernel_drops, sm.kernel_drops);
    close(s);
    mcrx_context_free(ctx);
}

static void kernel_timestamps_are_ordered_and_near_the_send_time(void **state) {
    static unsigned char arena[32 * 64];
    static mcrx_metadata metas[32];
    mcrx_datagram dgs[32];
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va"), i;
    int64_t before, after, prev = 0;
    uint64_t id;
    size_t got = 0, k;
    (void)state;
    mcrx_subscription_config_parse(&cfg, "239.9.3.1", port, NULL, NULL);
    cfg.rx_options |= MCRX_RX_TIMESTAMP | MCRX_RX_TTL;
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    /* Linux turns receive timestamping on a moment after the first socket
     * asks (a deferred static key); until then datagrams are stamped when
     * read. */
    th_settle();
    before = wall_ns();
    for (i = 0; i < 20; i++)
        th_send(s, "239.9.3.1", port, &i, sizeof i);
    after = wall_ns();
    th_settle();
    mcrx_datagrams_init(dgs, 32, arena, 64, metas);
    assert_int_equal(mcrx_context_recv_batch(ctx, dgs, 32, &got), 0);
    assert_int_equal(got, 20);
    for (k = 0; k < got; k++) {
        const mcrx_metadata *m = dgs[k].meta;
        assert_true(m->valid & MCRX_META_TIMESTAMP);
        assert_true(m->rx_timestamp_ns >= before);
        assert_true(m->rx_timestamp_ns <= after + 100000000LL); /* delivered within 100 ms */
        assert_true(m->rx_timestamp_ns >= prev);
        prev = m->rx_timestamp_ns;
        assert_int_equal(m->ttl, 1);
    }
    close(s);
    mcrx_context_free(ctx);
}

/* The isolation filter's discards are counted by reason. */
static void discards_are_counted_by_reason(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    mcrx_subscription_metrics sm;
    uint16_t port = th_port();
    int su = th_sender_plain(S_V4), s = th_sender(S_V4, "va");
    uint64_t id;
    unsigned char buf[64];
    mcrx_datagram dg;
    (void)state;
    mcrx_subscription_config_parse(&cfg, "239.9.4.1", port, NULL, NULL);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, th_foreign_socket("0.0.0.0", port),
                                                  &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    th_send_str(su, R_V4, port, "unicast");
    th_send_str(su, R_V4, port, "unicast");
    th_send_str(s, "239.9.4.1", port, "mine");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_true(th_ctx_recv_wait(ctx, &dg, TH_WAIT_MS));
    assert_int_equal(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &sm), 0);
    assert_int_equal(sm.discarded_other_group, 2);
    assert_int_equal(sm.discarded_other_source, 0);
    assert_int_equal(sm.packets_received, 1);
    close(s);
    close(su);
    mcrx_context_free(ctx);
}

static void deltas_rates_and_samplers(void **state) {
    mcrx_context_metrics a, b;
    mcrx_metrics_delta d;
    mcrx_context_sampler smp;
    (void)state;
    memset(&a, 0, sizeof a);
    b = a;
    a.captured_at_ns = 1000000000;
    b.captured_at_ns = 3000000000;
    a.total_packets_received = 10;
    b.total_packets_received = 30;
    b.total_bytes_received = 400;
    b.batch_calls = 4;
    assert_int_equal(mcrx_context_metrics_delta(&a, &b, &d), MCRX_ERROR_NONE);
    assert_true(d.interval_secs == 2.0);
    assert_int_equal(d.packets_received, 20);
    assert_true(d.packets_per_sec == 10.0);
    assert_true(d.bytes_per_sec == 200.0);
    assert_int_equal(d.batch_calls, 4);
    /* backwards in time or in a counter */
    assert_int_equal(mcrx_context_metrics_delta(&b, &a, &d), MCRX_ERROR_INVALID_ARGUMENT);
    a.captured_at_ns = b.captured_at_ns;
    a.total_packets_received = 31;
    assert_int_equal(mcrx_context_metrics_delta(&a, &b, &d), MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "went backwards"));
    /* zero interval: rates are 0 */
    a = b;
    assert_int_equal(mcrx_context_metrics_delta(&a, &b, &d), MCRX_ERROR_NONE);
    assert_true(d.packets_per_sec == 0.0);

    mcrx_context_sampler_init(&smp);
    a.captured_at_ns = 5;
    assert_int_equal(mcrx_context_sampler_sample(&smp, &a, &d), 0); /* first: none */
    b = a;
    b.captured_at_ns = 1000000005;
    b.total_packets_received += 7;
    assert_int_equal(mcrx_context_sampler_sample(&smp, &b, &d), 1);
    assert_int_equal(d.packets_received, 7);
    assert_int_equal(smp.previous.captured_at_ns, b.captured_at_ns);
}

static void hardware_figures_are_sane(void **state) {
    mcrx_hardware_metrics a, b;
    mcrx_hardware_delta d;
    volatile double x = 0;
    int i;
    (void)state;
    assert_int_equal(mcrx_hardware_metrics_capture(&a), MCRX_ERROR_NONE);
    for (i = 0; i < 20000000; i++)
        x += i * 0.5; /* burn some CPU between the samples */
    assert_int_equal(mcrx_hardware_metrics_capture(&b), MCRX_ERROR_NONE);
    assert_true(x > 0);
    assert_true(b.thread_count >= 1);
    assert_true(b.rss_bytes > 1024 * 1024);
    assert_true(b.virtual_memory_bytes >= b.rss_bytes);
    assert_true(b.open_fds >= 3);
    assert_int_equal(mcrx_hardware_metrics_delta(&a, &b, &d), MCRX_ERROR_NONE);
    assert_true(d.cpu_total_secs >= 0 && d.cpu_util_percent >= 0);
    assert_true(d.interval_secs > 0);
    assert_int_equal(mcrx_hardware_metrics_delta(&b, &a, &d), MCRX_ERROR_INVALID_ARGUMENT);
}

static char *read_text(const char *path) {
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void jsonl_files_follow_the_schema(void **state) {
    char dir[] = "/tmp/mcrx-jsonl-XXXXXX", path[256], node[64], merged[256];
    mcrx_jsonl_writer *w, *w2;
    mcrx_context_metrics m;
    mcrx_metrics_delta d;
    mcrx_hardware_delta h;
    const char *text, *row;
    static const char *const keys[] = {
        "\"ts\":", "\"interval_secs\":", "\"active_subscriptions\":", "\"joined_subscriptions\":",
        "\"packets_received_total\":", "\"bytes_received_total\":", "\"packets_received_delta\":",
        "\"bytes_received_delta\":", "\"would_block_count_total\":", "\"would_block_count_delta\":",
        "\"receive_errors_total\":", "\"receive_errors_delta\":", "\"join_count_total\":",
        "\"join_count_delta\":", "\"leave_count_total\":", "\"leave_count_delta\":",
        "\"batch_calls_total\":", "\"batch_calls_delta\":", "\"batch_packets_received_total\":",
        "\"batch_packets_received_delta\":", "\"packets_per_sec\":", "\"bytes_per_sec\":",
        "\"would_block_per_sec\":", "\"receive_errors_per_sec\":"};
    size_t i;
    const char *at;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/node7/sub/dir/net.jsonl", dir); /* parents are created */
    assert_int_equal(mcrx_jsonl_writer_open(path, MCRX_JSONL_NETWORK_ARTIFACT, "node7",
                                            "mcrx-core/test", "{\"z\":1, \"a\": [true,null]}", &w),
                     MCRX_ERROR_NONE);
    /* a second writer is refused while the first holds the lock */
    assert_int_equal(mcrx_jsonl_writer_open(path, MCRX_JSONL_NETWORK_ARTIFACT, "node7",
                                            "mcrx-core/test", "{}", &w2),
                     MCRX_ERROR_BUSY);
    memset(&m, 0, sizeof m);
    memset(&d, 0, sizeof d);
    m.captured_at_ns = 1732550400500000000LL;
    m.total_packets_received = 42;
    d.interval_secs = 1.0;
    d.packets_per_sec = 1234.5;
    d.bytes_per_sec = 1e16;
    d.would_block_per_sec = 0.000001;
    d.receive_errors_per_sec = 0.0001;
    assert_int_equal(mcrx_jsonl_write_network(w, &m, &d), MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);

    text = read_text(path);
    assert_memory_equal(text,
                        "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"mcrx-network\","
                        "\"node_id\":\"node7\",\"producer\":\"mcrx-core/test\",\"created_at\":",
                        strlen("{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"mcrx-network\","
                               "\"node_id\":\"node7\",\"producer\":\"mcrx-core/test\",\"created_at\":"));
    assert_non_null(strstr(text, ",\"flags\":{\"a\":[true,null],\"z\":1}}\n"));
    row = strchr(text, '\n') + 1;
    for (i = 0, at = row; i < sizeof keys / sizeof keys[0]; i++) {
        const char *k = strstr(at, keys[i]);
        if (k == NULL)
            fail_msg("key %s missing or out of order in %s", keys[i], row);
        at = k;
    }
    assert_non_null(strstr(row, "{\"ts\":1732550400.5,\"interval_secs\":1.0,"));
    assert_non_null(strstr(row, "\"packets_received_total\":42,"));
    assert_non_null(strstr(row, "\"packets_per_sec\":1234.5,\"bytes_per_sec\":1e16,"
                                "\"would_block_per_sec\":1e-6,\"receive_errors_per_sec\":0.0001}\n"));
    assert_int_equal(mcrx_jsonl_validate_file(path), MCRX_ERROR_NONE);

    /* reopening with the same header appends rows, no second header */
    assert_int_equal(mcrx_jsonl_writer_open(path, MCRX_JSONL_NETWORK_ARTIFACT, "node7",
                                            "mcrx-core/test", "{\"a\":[true,null],\"z\":1}", &w),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_write_network(w, &m, &d), MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);
    text = read_text(path);
    assert_int_equal(strstr(strchr(text, '\n'), "\"schema\""), NULL);
    /* a different header is refused */
    assert_int_equal(mcrx_jsonl_writer_open(path, MCRX_JSONL_NETWORK_ARTIFACT, "node8",
                                            "mcrx-core/test", "{\"a\":[true,null],\"z\":1}", &w),
                     MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "existing header differs"));
    assert_int_equal(mcrx_jsonl_writer_open(path, MCRX_JSONL_NETWORK_ARTIFACT, "node7",
                                            "mcrx-core/test", "[1]", &w),
                     MCRX_ERROR_INVALID_ARGUMENT);

    /* hardware rows */
    snprintf(path, sizeof path, "%s/hw.jsonl", dir);
    assert_int_equal(mcrx_jsonl_writer_open(path, MCRX_JSONL_HARDWARE_ARTIFACT, "n", "p", NULL, &w),
                     MCRX_ERROR_NONE);
    memset(&h, 0, sizeof h);
    h.ts = 10.25;
    h.interval_secs = 2;
    h.cpu_util_percent = 12.5;
    h.rss_bytes = 4096;
    assert_int_equal(mcrx_jsonl_write_hardware(w, &h), MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);
    text = read_text(path);
    assert_non_null(strstr(text, "\"flags\":{}}\n{\"ts\":10.25,\"interval_secs\":2.0,"
                                 "\"cpu_user_secs\":0.0,\"cpu_system_secs\":0.0,\"cpu_total_secs\":0.0,"
                                 "\"cpu_util_percent\":12.5,\"rss_bytes\":4096,"
                                 "\"virtual_memory_bytes\":0,\"thread_count\":0,\"open_fds\":0,"
                                 "\"page_faults_minor\":0,\"page_faults_major\":0,"
                                 "\"ctx_switches_voluntary\":0,\"ctx_switches_involuntary\":0}\n"));

    /* validation failures */
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    write_file(path, "{\"schema\":\"other\",\"artifact_type\":\"a\",\"node_id\":\"n\",\"producer\":\"p\","
                     "\"created_at\":1.0,\"flags\":{}}\n");
    assert_int_equal(mcrx_jsonl_validate_file(path), MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "schema"));
    write_file(path, "\n{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
                     "\"producer\":\"p\",\"created_at\":1.0,\"flags\":{}}\n{\"ts\":1,\"node_id\":\"x\"}\n");
    assert_int_equal(mcrx_jsonl_validate_file(path), MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "line 3"));
    write_file(path, "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"\",\"node_id\":\"n\","
                     "\"producer\":\"p\",\"created_at\":1.0,\"flags\":{}}\n");
    assert_int_equal(mcrx_jsonl_validate_file(path), MCRX_ERROR_INVALID_ARGUMENT);
    write_file(path, "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
                     "\"producer\":\"p\",\"created_at\":1.0,\"flags\":[]}\n");
    assert_int_equal(mcrx_jsonl_validate_file(path), MCRX_ERROR_INVALID_ARGUMENT);
    write_file(path, "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
                     "\"producer\":\"p\",\"created_at\":1.0,\"flags\":{}}\n{not json}\n");
    assert_int_equal(mcrx_jsonl_validate_file(path), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(mcrx_jsonl_validate_file("/nonexistent/x.jsonl"), MCRX_ERROR_IO_FAILED);

    /* helpers */
    mcrx_jsonl_infer_node_id("/data/node9/metrics.jsonl", node, sizeof node);
    assert_string_equal(node, "node9");
    mcrx_jsonl_infer_node_id("metrics.jsonl", node, sizeof node);
    assert_string_equal(node, "metrics");
    mcrx_jsonl_infer_node_id("", node, sizeof node);
    assert_string_equal(node, "unknown");
    assert_int_equal(mcrx_jsonl_merge_flags("{\"role\":\"receiver\",\"b\":1}",
                                            "{\"role\":\"x\",\"a\":\"y\"}", merged, sizeof merged),
                     MCRX_ERROR_NONE);
    assert_string_equal(merged, "{\"a\":\"y\",\"b\":1,\"role\":\"receiver\"}");
    assert_int_equal(mcrx_jsonl_merge_flags("{}", "3", merged, sizeof merged),
                     MCRX_ERROR_INVALID_ARGUMENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_match_known_traffic_and_survive_removal),
        cmocka_unit_test(overflow_drops_are_counted_exactly),
        cmocka_unit_test(kernel_timestamps_are_ordered_and_near_the_send_time),
        cmocka_unit_test(discards_are_counted_by_reason),
        cmocka_unit_test(deltas_rates_and_samplers),
        cmocka_unit_test(hardware_figures_are_sane),
        cmocka_unit_test(jsonl_files_follow_the_schema),
    };
    th_init();
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
