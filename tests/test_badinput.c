/*
 * Bad input never crashes, hangs or passes silently: every public function of
 * <mcrx/mcrx.h>, <mcrx/metrics.h> and <mcrx_core_ffi.h> called with NULL for
 * each pointer argument gives its documented result (a status with a kind and
 * a "MCRX: " message, or the neutral value), and the JSON reader refuses deep
 * nesting, numbers outside RFC 8259, broken strings and trailing garbage
 * whatever the locale. Pure logic: no traffic, no namespace.
 */
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <mcrx/jsonl.h>
#include <mcrx/mcrx.h>

/* ---- helpers ------------------------------------------------------------------------ */

static void clear_thread_error(void) {
    mcrx_ip ip;
    assert_int_equal(mcrx_ip_parse("127.0.0.1", &ip), MCRX_ERROR_NONE); /* success clears */
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NONE);
}

static void assert_reported(mcrx_error kind, const char *msg, mcrx_error want) {
    assert_int_equal(kind, want);
    assert_non_null(msg);
    if (strncmp(msg, "MCRX: ", 6) != 0 || strlen(msg) <= 6)
        fail_msg("message \"%s\" does not start with \"MCRX: \" and name a cause", msg);
}

/* The call fails with ret, and the thread's slot holds kind and message. */
#define EXPECT_THREAD(call, ret, kind)                                                        \
    do {                                                                                      \
        clear_thread_error();                                                                 \
        assert_int_equal((call), (ret));                                                      \
        assert_reported(mcrx_last_error_code(), mcrx_last_error(), (kind));                   \
    } while (0)

#define EXPECT_NULL_THREAD(call) \
    EXPECT_THREAD(call, MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT)
/* Handle calls answer MCRX_STATUS_*; INVALID_ARGUMENT is 1 in both numberings. */
#define EXPECT_NULL_STATUS_THREAD(call) \
    EXPECT_THREAD(call, MCRX_STATUS_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT)

static void clear_context_error(mcrx_context *ctx) {
    mcrx_context_metrics m;
    assert_int_equal(mcrx_context_metrics_get(ctx, &m), 0); /* success clears */
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NONE);
}

#define EXPECT_NULL_CONTEXT(ctx, call)                                                        \
    do {                                                                                      \
        clear_context_error(ctx);                                                             \
        assert_int_equal((call), MCRX_STATUS_INVALID_ARGUMENT);                               \
        assert_reported(mcrx_context_last_error_code(ctx), mcrx_context_last_error(ctx),      \
                        MCRX_ERROR_INVALID_ARGUMENT);                                         \
    } while (0)

static void clear_subscription_error(mcrx_subscription *sub) {
    mcrx_ip ip;
    assert_int_equal(mcrx_subscription_local_addr(sub, &ip, NULL), 0); /* success clears */
    assert_int_equal(mcrx_subscription_last_error_code(sub), MCRX_ERROR_NONE);
}

#define EXPECT_NULL_SUBSCRIPTION(sub, call)                                                   \
    do {                                                                                      \
        clear_subscription_error(sub);                                                        \
        assert_int_equal((call), MCRX_STATUS_INVALID_ARGUMENT);                               \
        assert_reported(mcrx_subscription_last_error_code(sub),                               \
                        mcrx_subscription_last_error(sub), MCRX_ERROR_INVALID_ARGUMENT);      \
    } while (0)

static void on_packet(const McrxPacketView *packet, void *user) {
    (void)packet;
    (void)user;
}

typedef struct fixture {
    mcrx_context *ctx;
    mcrx_subscription *sub;
    mcrx_subscription_config cfg;
    uint64_t id;
} fixture;

/* A context holding one bound (not joined) subscription: a socket, no traffic. */
static void fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    f->ctx = mcrx_context_new();
    assert_non_null(f->ctx);
    assert_int_equal(mcrx_subscription_config_parse(&f->cfg, "239.255.42.99", 42999, NULL, NULL),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_context_add(f->ctx, &f->cfg, &f->id), 0);
    f->sub = mcrx_context_get_subscription(f->ctx, f->id);
    assert_non_null(f->sub);
}

static char *read_text(const char *path) {
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void write_bytes(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}

static void write_text(const char *path, const char *text) {
    write_bytes(path, text, strlen(text));
}

static char tmpdir[] = "/tmp/mcrx-badinput-XXXXXX";

static const char *tmp_path(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

#define HEADER                                                                                \
    "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","           \
    "\"producer\":\"p\",\"created_at\":1.5,\"flags\":{}}\n"

/* validate_file on header + row: the kind, and a reason containing why. */
static mcrx_error validate_row(const char *row, const char *why) {
    char *text = malloc(sizeof HEADER + strlen(row) + 2);
    mcrx_error e;
    assert_non_null(text);
    sprintf(text, "%s%s\n", HEADER, row);
    write_text(tmp_path("row.jsonl"), text);
    free(text);
    e = mcrx_jsonl_validate_file(tmp_path("row.jsonl"));
    if (e != MCRX_ERROR_NONE) {
        assert_reported(mcrx_last_error_code(), mcrx_last_error(), e);
        if (why != NULL && strstr(mcrx_last_error(), why) == NULL)
            fail_msg("row %s: message \"%s\" lacks \"%s\"", row, mcrx_last_error(), why);
    }
    return e;
}

/* ---- NULL pointers: <mcrx/mcrx.h> pure functions ----------------------------------------- */

static void null_pointers_in_address_and_config_functions(void **state) {
    mcrx_ip ip, mc;
    mcrx_subscription_config cfg;
    char text[MCRX_IP_STRLEN];
    struct sockaddr_storage ss;
    uint16_t port;
    int64_t idx;
    mcrx_datagram dgs[2];
    unsigned char arena[16];
    (void)state;

    assert_non_null(mcrx_error_message(-1));
    assert_non_null(mcrx_error_name(MCRX_ERROR_COUNT_));

    EXPECT_NULL_THREAD(mcrx_ip_parse(NULL, &ip));
    EXPECT_NULL_THREAD(mcrx_ip_parse("239.1.2.3", NULL));
    assert_int_equal(mcrx_ip_parse("239.1.2.3", &mc), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_ip_format(NULL, text, sizeof text), 0);
    assert_int_equal(mcrx_ip_format(&mc, NULL, sizeof text), 0);
    assert_int_equal(mcrx_ip_equal(NULL, &mc), 0);
    assert_int_equal(mcrx_ip_equal(&mc, NULL), 0);
    assert_int_equal(mcrx_ip_equal(NULL, NULL), 0);
    assert_int_equal(mcrx_ip_is_multicast(NULL), 0);
    assert_int_equal(mcrx_ip_to_sockaddr(NULL, 1, &ss, sizeof ss), 0);
    assert_int_equal(mcrx_ip_to_sockaddr(&mc, 1, NULL, sizeof ss), 0);
    EXPECT_NULL_THREAD(mcrx_ip_from_sockaddr(NULL, &ip, &port));
    assert_int_equal(mcrx_ip_to_sockaddr(&mc, 7, &ss, sizeof ss) > 0, 1);
    EXPECT_NULL_THREAD(mcrx_ip_from_sockaddr((struct sockaddr *)&ss, NULL, &port));
    assert_int_equal(mcrx_ip_from_sockaddr((struct sockaddr *)&ss, &ip, NULL), MCRX_ERROR_NONE);

    mcrx_subscription_config_init(NULL);
    EXPECT_NULL_THREAD(mcrx_subscription_config_validate(NULL));
    EXPECT_NULL_THREAD(mcrx_subscription_config_parse(NULL, "239.1.2.3", 5000, NULL, NULL));
    EXPECT_NULL_THREAD(mcrx_subscription_config_parse(&cfg, NULL, 5000, NULL, NULL));
    /* source and interface are optional */
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "239.1.2.3", 5000, NULL, NULL), 0);
    EXPECT_NULL_THREAD(mcrx_parse_interface(NULL, MCRX_IP_V6, &ip, &idx));
    EXPECT_NULL_THREAD(mcrx_parse_interface("7", MCRX_IP_V6, NULL, &idx));
    EXPECT_NULL_THREAD(mcrx_parse_interface("7", MCRX_IP_V6, &ip, NULL));
    assert_int_equal(mcrx_subscription_config_is_ssm(NULL), 0);

    mcrx_datagram_init(NULL, arena, sizeof arena);
    mcrx_datagrams_init(NULL, 2, arena, 8, NULL);
    memset(dgs, 0xa5, sizeof dgs);
    mcrx_datagrams_init(dgs, 2, NULL, 8, NULL); /* slots without a buffer, not garbage */
    assert_null(dgs[0].buf);
    assert_null(dgs[1].buf);
    assert_int_equal(dgs[1].cap, 8);
    assert_null(dgs[1].meta);
}

/* ---- NULL pointers: contexts and subscriptions ------------------------------------------ */

static void null_pointers_in_context_and_subscription_calls(void **state) {
    fixture f;
    mcrx_subscription *taken;
    mcrx_datagram dg, dgs[2];
    unsigned char buf[64];
    size_t got, bytes;
    uint64_t id;
    int ready, s;
    mcrx_ip ip;
    uint16_t port;
    (void)state;
    fixture_open(&f);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    mcrx_datagrams_init(dgs, 2, buf, 32, NULL);

    clear_thread_error();
    assert_int_equal(mcrx_context_last_error_code(NULL), MCRX_ERROR_NONE); /* the thread's */
    assert_int_equal(mcrx_context_last_os_error(NULL), 0);

    EXPECT_NULL_STATUS_THREAD(mcrx_context_add(NULL, &f.cfg, &id));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_add(f.ctx, NULL, &id));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_add(f.ctx, &f.cfg, NULL));
    s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    EXPECT_NULL_STATUS_THREAD(mcrx_context_add_with_socket(NULL, &f.cfg, s, &id));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_add_with_socket(f.ctx, NULL, s, &id));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_add_with_socket(f.ctx, &f.cfg, s, NULL));
    close(s);
    assert_int_equal(mcrx_context_contains_subscription(NULL, f.id), 0);
    assert_null(mcrx_context_get_subscription(NULL, f.id));
    assert_null(mcrx_context_subscription_at(NULL, 0));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_take_subscription(NULL, f.id, &taken));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_take_subscription(f.ctx, f.id, NULL));
    assert_int_equal(mcrx_context_contains_subscription(f.ctx, f.id), 1); /* still held */
    EXPECT_NULL_STATUS_THREAD(mcrx_context_recv(NULL, &dg, &got));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_recv(f.ctx, NULL, &got));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_recv(f.ctx, &dg, NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_recv_batch(NULL, dgs, 2, &got));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_recv_batch(f.ctx, NULL, 2, &got));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_recv_batch(f.ctx, dgs, 2, NULL));
    assert_int_equal(mcrx_context_fd(NULL), MCRX_SOCK_INVALID);
    EXPECT_NULL_STATUS_THREAD(mcrx_context_wait(NULL, 0, &ready));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_wait(f.ctx, 0, NULL));
    /* A slot without a buffer is refused, not written through. */
    mcrx_datagram_init(&dg, NULL, 64);
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_recv(f.ctx, &dg, &got));
    mcrx_datagram_init(&dg, buf, sizeof buf);

    assert_int_equal(mcrx_subscription_id(NULL), 0);
    assert_int_equal(mcrx_subscription_state(NULL), 0);
    assert_null(mcrx_subscription_get_config(NULL));
    assert_int_equal(mcrx_subscription_sock(NULL), MCRX_SOCK_INVALID);
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_rcvbuf(NULL, &bytes));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_rcvbuf(f.sub, NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_local_addr(NULL, &ip, &port));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_local_addr(f.sub, NULL, &port));
    clear_thread_error();
    assert_int_equal(mcrx_subscription_last_error_code(NULL), MCRX_ERROR_NONE);
    assert_non_null(mcrx_subscription_last_error(NULL));
    assert_int_equal(mcrx_subscription_last_os_error(NULL), 0);
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_join_group(NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_leave_group(NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_recv(NULL, &dg, &got));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_recv(f.sub, NULL, &got));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_recv(f.sub, &dg, NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_recv_batch(NULL, dgs, 2, &got));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_recv_batch(f.sub, NULL, 2, &got));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_recv_batch(f.sub, dgs, 2, NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_wait(NULL, 0, &ready));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_wait(f.sub, 0, NULL));
    mcrx_subscription_free(NULL);
    assert_int_equal(mcrx_subscription_into_sock(NULL), MCRX_SOCK_INVALID);

    mcrx_context_free(f.ctx);
}

/* ---- NULL pointers: the C ABI ------------------------------------------------------------ */

static void null_pointers_in_the_c_abi(void **state) {
    fixture f;
    uint64_t id;
    size_t got;
    (void)state;
    fixture_open(&f);
    assert_non_null(mcrx_ffi_version());
    assert_non_null(mcrx_last_error());
    mcrx_context_free(NULL);
    assert_non_null(mcrx_context_last_error(NULL));
    assert_int_equal(mcrx_context_subscription_count(NULL), 0);

    EXPECT_NULL_STATUS_THREAD(
        mcrx_context_add_subscription(NULL, "239.1.2.3", 5000, NULL, NULL, &id));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_add_subscription(f.ctx, NULL, 5000, NULL, NULL, &id));
    EXPECT_NULL_CONTEXT(f.ctx,
                        mcrx_context_add_subscription(f.ctx, "239.1.2.3", 5000, NULL, NULL, NULL));
    assert_int_equal(mcrx_context_subscription_count(f.ctx), 1);
    EXPECT_NULL_STATUS_THREAD(mcrx_context_join_subscription(NULL, f.id));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_leave_subscription(NULL, f.id));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_remove_subscription(NULL, f.id));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_poll(NULL, 1, on_packet, NULL, &got));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_poll(f.ctx, 1, on_packet, NULL, NULL));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_poll(f.ctx, 1, NULL, NULL, &got));
    assert_int_equal(mcrx_context_poll(f.ctx, 0, NULL, NULL, &got), MCRX_STATUS_OK);
    EXPECT_NULL_STATUS_THREAD(mcrx_context_start(NULL, on_packet, NULL, 0));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_start(f.ctx, NULL, NULL, 0));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_stop(NULL));
    mcrx_context_free(f.ctx);
}

/* ---- NULL pointers: metrics, samplers, JSONL ---------------------------------------------- */

static void null_pointers_in_metrics_and_jsonl(void **state) {
    fixture f;
    mcrx_subscription_metrics sm;
    mcrx_context_metrics cm, cm2;
    mcrx_metrics_delta d;
    mcrx_hardware_metrics hm, hm2;
    mcrx_hardware_delta hd;
    mcrx_context_sampler cs;
    mcrx_hardware_sampler hs;
    mcrx_jsonl_writer *w;
    char out[64], node[16];
    (void)state;
    fixture_open(&f);
    memset(&cm, 0, sizeof cm);
    memset(&cm2, 0, sizeof cm2);
    memset(&hm, 0, sizeof hm);
    memset(&hm2, 0, sizeof hm2);
    memset(&sm, 0, sizeof sm);

    EXPECT_NULL_STATUS_THREAD(mcrx_subscription_metrics_get(NULL, &sm));
    EXPECT_NULL_SUBSCRIPTION(f.sub, mcrx_subscription_metrics_get(f.sub, NULL));
    EXPECT_NULL_STATUS_THREAD(mcrx_context_metrics_get(NULL, &cm));
    EXPECT_NULL_CONTEXT(f.ctx, mcrx_context_metrics_get(f.ctx, NULL));
    EXPECT_NULL_THREAD(mcrx_context_metrics_delta(NULL, &cm2, &d));
    EXPECT_NULL_THREAD(mcrx_context_metrics_delta(&cm, NULL, &d));
    EXPECT_NULL_THREAD(mcrx_context_metrics_delta(&cm, &cm2, NULL));
    EXPECT_NULL_THREAD(mcrx_subscription_metrics_delta(NULL, &sm, &d));
    EXPECT_NULL_THREAD(mcrx_subscription_metrics_delta(&sm, NULL, &d));
    EXPECT_NULL_THREAD(mcrx_subscription_metrics_delta(&sm, &sm, NULL));
    EXPECT_NULL_THREAD(mcrx_hardware_metrics_capture(NULL));
    EXPECT_NULL_THREAD(mcrx_hardware_metrics_delta(NULL, &hm2, &hd));
    EXPECT_NULL_THREAD(mcrx_hardware_metrics_delta(&hm, NULL, &hd));
    EXPECT_NULL_THREAD(mcrx_hardware_metrics_delta(&hm, &hm2, NULL));

    mcrx_context_sampler_init(NULL);
    mcrx_hardware_sampler_init(NULL);
    mcrx_context_sampler_init(&cs);
    mcrx_hardware_sampler_init(&hs);
    assert_int_equal(mcrx_context_sampler_sample(NULL, &cm, &d), 0);
    assert_int_equal(mcrx_context_sampler_sample(&cs, NULL, &d), 0);
    assert_int_equal(mcrx_context_sampler_sample(&cs, &cm, NULL), 0);
    assert_int_equal(cs.has_previous, 0); /* unchanged */
    assert_int_equal(mcrx_hardware_sampler_sample(NULL, &hm, &hd), 0);
    assert_int_equal(mcrx_hardware_sampler_sample(&hs, NULL, &hd), 0);
    assert_int_equal(mcrx_hardware_sampler_sample(&hs, &hm, NULL), 0);
    assert_int_equal(hs.has_previous, 0);

    EXPECT_NULL_THREAD(mcrx_jsonl_writer_open(NULL, "a", "n", "p", NULL, &w));
    EXPECT_NULL_THREAD(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), NULL, "n", "p", NULL, &w));
    EXPECT_NULL_THREAD(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", NULL, "p", NULL, &w));
    EXPECT_NULL_THREAD(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", NULL, NULL, &w));
    EXPECT_NULL_THREAD(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", NULL, NULL));
    /* flags_json is optional */
    assert_int_equal(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", NULL, &w),
                     MCRX_ERROR_NONE);
    EXPECT_NULL_THREAD(mcrx_jsonl_write_network(NULL, &cm, &d));
    EXPECT_NULL_THREAD(mcrx_jsonl_write_network(w, NULL, &d));
    EXPECT_NULL_THREAD(mcrx_jsonl_write_network(w, &cm, NULL));
    EXPECT_NULL_THREAD(mcrx_jsonl_write_hardware(NULL, &hd));
    EXPECT_NULL_THREAD(mcrx_jsonl_write_hardware(w, NULL));
    mcrx_jsonl_writer_close(w);
    mcrx_jsonl_writer_close(NULL);
    EXPECT_NULL_THREAD(mcrx_jsonl_validate_file(NULL));
    EXPECT_NULL_THREAD(mcrx_jsonl_merge_flags(NULL, "{}", out, sizeof out));
    EXPECT_NULL_THREAD(mcrx_jsonl_merge_flags("{}", NULL, out, sizeof out));
    EXPECT_NULL_THREAD(mcrx_jsonl_merge_flags("{}", "{}", NULL, sizeof out));

    mcrx_jsonl_infer_node_id(NULL, node, sizeof node);
    assert_string_equal(node, "unknown");
    mcrx_jsonl_infer_node_id("/data/n1/x.jsonl", NULL, 16);
    strcpy(node, "keep");
    mcrx_jsonl_infer_node_id("/data/n1/x.jsonl", node, 0);
    assert_string_equal(node, "keep");
    mcrx_context_free(f.ctx);
}

static void short_buffers_are_reported(void **state) {
    char out[8], node[6];
    (void)state;
    strcpy(out, "junk");
    EXPECT_THREAD(mcrx_jsonl_merge_flags("{\"role\":\"receiver\"}", "{}", out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "need 20"));
    assert_string_equal(out, ""); /* nothing half-written */
    assert_int_equal(mcrx_jsonl_merge_flags("{\"a\":1}", "{}", out, sizeof out), MCRX_ERROR_NONE);
    assert_string_equal(out, "{\"a\":1}");
    /* node ids are cut at a character boundary (a 2-byte 'é' does not fit) */
    mcrx_jsonl_infer_node_id("/d/abcd\xc3\xa9/x", node, sizeof node);
    assert_string_equal(node, "abcd");
}

/* ---- JSON: nesting -------------------------------------------------------------------------- */

/* {"a":[[...[]...]]} or {"a":{"a":...{}...}}: `levels` levels in all, the
 * outer object being level 1 (levels >= 2). */
static char *nested(size_t levels, int objects) {
    size_t i, o = 0;
    char *s = malloc(16 + levels * 6);
    assert_non_null(s);
    o += (size_t)sprintf(s, "{\"a\":");
    for (i = 0; i < levels - 2; i++)
        o += (size_t)sprintf(s + o, "%s", objects ? "{\"a\":" : "[");
    o += (size_t)sprintf(s + o, "%s", objects ? "{}" : "[]");
    for (i = 0; i < levels - 2; i++)
        s[o++] = objects ? '}' : ']';
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void deep_nesting_is_refused_without_recursing(void **state) {
    char out[512];
    char *deep, *file;
    size_t n;
    mcrx_jsonl_writer *w;
    (void)state;
    /* The file: 100 000 nested arrays, 200 KB, on a row. */
    deep = nested(100000, 0);
    n = strlen(deep);
    assert_true(n >= 200000);
    file = malloc(n + 512);
    assert_non_null(file);
    sprintf(file, "%s%s\n", HEADER, deep);
    write_text(tmp_path("deep.jsonl"), file);
    EXPECT_THREAD(mcrx_jsonl_validate_file(tmp_path("deep.jsonl")), MCRX_ERROR_INVALID_ARGUMENT,
                  MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "line 2"));
    assert_non_null(strstr(mcrx_last_error(), "deeper than 64 levels"));
    /* in the header's flags, in merge and in the writer's flags */
    sprintf(file, "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
                  "\"producer\":\"p\",\"created_at\":1.5,\"flags\":%s}\n", deep);
    write_text(tmp_path("deep.jsonl"), file);
    EXPECT_THREAD(mcrx_jsonl_validate_file(tmp_path("deep.jsonl")), MCRX_ERROR_INVALID_ARGUMENT,
                  MCRX_ERROR_INVALID_ARGUMENT);
    EXPECT_THREAD(mcrx_jsonl_merge_flags(deep, "{}", out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    EXPECT_THREAD(mcrx_jsonl_merge_flags("{}", deep, out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    EXPECT_THREAD(mcrx_jsonl_writer_open(tmp_path("deepw.jsonl"), "a", "n", "p", deep, &w),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    free(deep);
    /* objects too, 80 000 deep */
    deep = nested(80000, 1);
    EXPECT_THREAD(mcrx_jsonl_merge_flags(deep, "{}", out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row(deep, "deeper than"), MCRX_ERROR_INVALID_ARGUMENT);
    free(deep);
    free(file);

    /* the limit itself: 64 levels pass, 65 do not */
    deep = nested(MCRX_JSONL_MAX_DEPTH, 0);
    assert_int_equal(validate_row(deep, NULL), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_merge_flags(deep, "{}", out, sizeof out), MCRX_ERROR_NONE);
    assert_string_equal(out, deep);
    free(deep);
    deep = nested(MCRX_JSONL_MAX_DEPTH, 1);
    assert_int_equal(validate_row(deep, NULL), MCRX_ERROR_NONE);
    free(deep);
    deep = nested(MCRX_JSONL_MAX_DEPTH + 1, 0);
    assert_int_equal(validate_row(deep, "deeper than"), MCRX_ERROR_INVALID_ARGUMENT);
    free(deep);
    deep = nested(MCRX_JSONL_MAX_DEPTH + 1, 1);
    assert_int_equal(validate_row(deep, "deeper than"), MCRX_ERROR_INVALID_ARGUMENT);
    free(deep);
}

/* ---- JSON: numbers, strings, keys, trailing garbage ------------------------------------------ */

static void numbers_follow_rfc8259(void **state) {
    static const char *const bad[] = {
        "-inf", "inf", "nan", "NaN", "-nan", "Infinity", "-Infinity", "0x10", "0x1p3", "-0x1p3",
        "+1", "01", "-01", "00", "1.", ".5", "-.5", "1e", "1e+", "1E-", "--1", "-", "1.5e999",
        "-1e309", "1e99999999999999999999", "1_000", "1.2.3", "0b1", "\xd9\xa1"};
    static const char *const good[] = {"0", "-0", "0.5", "-0.0", "1e5", "1E+5", "2e-3",
                                       "1e-400", "123456789012345678901234567890",
                                       "1.7976931348623157e308", "-2.2250738585072014e-308",
                                       "0.000000000000000000000000000001e30"};
    char row[256], out[256];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(row, sizeof row, "{\"ts\":%s}", bad[i]);
        if (validate_row(row, NULL) != MCRX_ERROR_INVALID_ARGUMENT)
            fail_msg("row %s was accepted", row);
        snprintf(row, sizeof row, "{\"x\":[1,%s]}", bad[i]);
        assert_int_equal(mcrx_jsonl_merge_flags(row, "{}", out, sizeof out),
                         MCRX_ERROR_INVALID_ARGUMENT);
    }
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(row, sizeof row, "{\"ts\":%s}", good[i]);
        if (validate_row(row, NULL) != MCRX_ERROR_NONE)
            fail_msg("row %s was refused: %s", row, mcrx_last_error());
        /* numbers keep their text */
        assert_int_equal(mcrx_jsonl_merge_flags(row, "{}", out, sizeof out), MCRX_ERROR_NONE);
        assert_string_equal(out, row);
    }
    assert_int_equal(validate_row("{\"ts\":1e999}", "out of range"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"ts\":01}", "leading zero"), MCRX_ERROR_INVALID_ARGUMENT);

    /* created_at: the values the issue saw accepted */
    for (i = 0; i < 4; i++) {
        static const char *const created[] = {"-inf", "nan", "0x1p3", "1e999"};
        char text[512];
        snprintf(text, sizeof text,
                 "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
                 "\"producer\":\"p\",\"created_at\":%s,\"flags\":{}}\n",
                 created[i]);
        write_text(tmp_path("created.jsonl"), text);
        EXPECT_THREAD(mcrx_jsonl_validate_file(tmp_path("created.jsonl")),
                      MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(mcrx_last_error(), "line 1"));
    }
}

static void trailing_garbage_is_refused(void **state) {
    char out[64];
    mcrx_jsonl_writer *w;
    (void)state;
    write_text(tmp_path("trail.jsonl"),
               "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
               "\"producer\":\"p\",\"created_at\":1.5,\"flags\":{}} x\n");
    EXPECT_THREAD(mcrx_jsonl_validate_file(tmp_path("trail.jsonl")), MCRX_ERROR_INVALID_ARGUMENT,
                  MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "trailing"));
    /* ... and no writer appends to such a file */
    EXPECT_THREAD(mcrx_jsonl_writer_open(tmp_path("trail.jsonl"), "a", "n", "p", NULL, &w),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    assert_null(w);
    assert_int_equal(validate_row("{\"ts\":1}{}", "trailing"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"ts\":1}]", "trailing"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"ts\":1} \t\r", NULL), MCRX_ERROR_NONE); /* whitespace */
    assert_int_equal(validate_row("{\"ts\":truex}", NULL), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"ts\":1", NULL), MCRX_ERROR_INVALID_ARGUMENT);
    EXPECT_THREAD(mcrx_jsonl_merge_flags("{} x", "{}", out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    EXPECT_THREAD(mcrx_jsonl_merge_flags("{}", "{}}", out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    EXPECT_THREAD(mcrx_jsonl_writer_open(tmp_path("flags.jsonl"), "a", "n", "p", "{}{}", &w),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
}

static void strings_and_keys_must_be_unambiguous_text(void **state) {
    char out[64];
    mcrx_jsonl_writer *w;
    (void)state;
    assert_int_equal(validate_row("{\"s\":\"\xff\"}", "UTF-8"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"s\":\"\xc0\xaf\"}", "UTF-8"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"s\":\"\xed\xa0\x80\"}", "UTF-8"),
                     MCRX_ERROR_INVALID_ARGUMENT); /* an encoded surrogate */
    assert_int_equal(validate_row("{\"s\":\"\\ud800\"}", "surrogate"),
                     MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"s\":\"\\udc00\\ud800\"}", "surrogate"),
                     MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"s\":\"\\x41\"}", "escape"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"s\":\"a\tb\"}", "control"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"a\":1,\"a\":2}", "duplicate"), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(validate_row("{\"s\":\"\\ud83d\\ude00 \xc3\xa9\"}", NULL), MCRX_ERROR_NONE);
    /* a header key hidden behind \u0000 is not that key, and not silently merged */
    assert_int_equal(validate_row("{\"schema\\u0000\":1}", NULL), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_merge_flags("{\"s\":\"\\ud83d\\ude00\",\"k\\u0000\":1}",
                                            "{\"k\":2}", out, sizeof out),
                     MCRX_ERROR_NONE);
    assert_string_equal(out, "{\"k\":2,\"k\\u0000\":1,\"s\":\"\xf0\x9f\x98\x80\"}");
    /* the writer refuses header text that would not be JSON */
    EXPECT_THREAD(mcrx_jsonl_writer_open(tmp_path("utf8.jsonl"), "a", "n\xff", "p", NULL, &w),
                  MCRX_ERROR_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "UTF-8"));
    assert_int_equal(access(tmp_path("utf8.jsonl"), F_OK), -1); /* nothing written */
}

static void the_writer_never_writes_invalid_json(void **state) {
    mcrx_jsonl_writer *w;
    mcrx_context_metrics m;
    mcrx_metrics_delta d;
    mcrx_hardware_delta h;
    const char *text;
    (void)state;
    /* Non-finite doubles are written as null, as serde_json writes them. */
    memset(&m, 0, sizeof m);
    memset(&d, 0, sizeof d);
    memset(&h, 0, sizeof h);
    d.interval_secs = NAN;
    d.packets_per_sec = INFINITY;
    d.bytes_per_sec = -INFINITY;
    h.ts = -NAN;
    h.cpu_util_percent = INFINITY;
    assert_int_equal(mcrx_jsonl_writer_open(tmp_path("nan.jsonl"), "a", "n\xc3\xa9", "p\n\"q\"",
                                            "{\"b\":[1e2,-0,\"\\u0001\"],\"a\":{}}", &w),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_write_network(w, &m, &d), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_write_hardware(w, &h), MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);
    text = read_text(tmp_path("nan.jsonl"));
    assert_non_null(strstr(text, "\"node_id\":\"n\xc3\xa9\",\"producer\":\"p\\n\\\"q\\\"\""));
    assert_non_null(strstr(text, "\"flags\":{\"a\":{},\"b\":[1e2,-0,\"\\u0001\"]}}\n"));
    assert_non_null(strstr(text, "{\"ts\":0.0,\"interval_secs\":null,"));
    assert_non_null(strstr(text, "\"packets_per_sec\":null,\"bytes_per_sec\":null,"));
    assert_non_null(strstr(text, "{\"ts\":null,"));
    assert_non_null(strstr(text, "\"cpu_util_percent\":null,"));
    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "inf"));
    assert_int_equal(mcrx_jsonl_validate_file(tmp_path("nan.jsonl")), MCRX_ERROR_NONE);

    /* A file whose last line was cut: our rows still start on their own line. */
    write_text(tmp_path("cut.jsonl"), HEADER "{\"ts\":1");
    assert_int_equal(mcrx_jsonl_writer_open(tmp_path("cut.jsonl"), "a", "n", "p", NULL, &w),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_write_hardware(w, &h), MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);
    text = read_text(tmp_path("cut.jsonl"));
    assert_non_null(strstr(text, "{\"ts\":1\n{\"ts\":null,"));
}

/* ---- locale --------------------------------------------------------------------------------- */

static char locdir[] = "/tmp/mcrx-locale-XXXXXX";

/* Switches to a locale whose decimal point is ',' (building one with
 * localedef when none is installed). 0 if none can be had. */
static int comma_locale(void) {
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
                                        "fr_FR.utf8", "nl_NL.UTF-8", "de_DE"};
    char cmd[256];
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (setlocale(LC_ALL, names[i]) != NULL && strcmp(localeconv()->decimal_point, ",") == 0)
            return 1;
    if (mkdtemp(locdir) == NULL)
        return 0;
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1",
             locdir);
    if (system(cmd) != 0)
        return 0;
    setenv("LOCPATH", locdir, 1);
    return setlocale(LC_ALL, "de_DE.UTF-8") != NULL &&
           strcmp(localeconv()->decimal_point, ",") == 0;
}

static void numbers_do_not_depend_on_lc_numeric(void **state) {
    mcrx_jsonl_writer *w;
    mcrx_context_metrics m;
    mcrx_metrics_delta d;
    char probe[16], out[128], cmd[300];
    const char *text;
    const char *ci = getenv("CI");
    (void)state;
    if (!comma_locale()) {
        if (ci != NULL && strcmp(ci, "true") == 0)
            fail_msg("no comma-decimal locale, and localedef could not make one");
        skip();
    }
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    assert_string_equal(probe, "1,5"); /* the locale is really in force */

    memset(&m, 0, sizeof m);
    memset(&d, 0, sizeof d);
    m.captured_at_ns = 1732550400500000000LL;
    d.interval_secs = 1.0;
    d.packets_per_sec = 1234.5;
    d.bytes_per_sec = 1e16;
    d.would_block_per_sec = 0.000001;
    d.receive_errors_per_sec = -2.75e-7;
    assert_int_equal(mcrx_jsonl_writer_open(tmp_path("locale.jsonl"), "a", "n", "p",
                                            "{\"ratio\":0.25}", &w),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_write_network(w, &m, &d), MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);
    text = read_text(tmp_path("locale.jsonl"));
    assert_non_null(strstr(text, "{\"ts\":1732550400.5,\"interval_secs\":1.0,"));
    assert_non_null(strstr(text, "\"packets_per_sec\":1234.5,\"bytes_per_sec\":1e16,"
                                 "\"would_block_per_sec\":1e-6,"
                                 "\"receive_errors_per_sec\":-2.75e-7}\n"));
    assert_non_null(strstr(text, "\"flags\":{\"ratio\":0.25}}\n"));
    {
        /* created_at: digits and one '.', whatever the locale */
        const char *c = strstr(text, "\"created_at\":") + 13, *e = strstr(c, ",\"flags\"");
        assert_non_null(e);
        for (; c < e; c++)
            if (!((*c >= '0' && *c <= '9') || *c == '.' || *c == 'e' || *c == '-'))
                fail_msg("created_at holds '%c'", *c);
    }
    assert_int_equal(mcrx_jsonl_validate_file(tmp_path("locale.jsonl")), MCRX_ERROR_NONE);
    /* the reader too: 1.5 is one and a half, 2,5 is not a number */
    assert_int_equal(validate_row("{\"ts\":1732550400.123}", NULL), MCRX_ERROR_NONE);
    assert_int_equal(validate_row("{\"ts\":2,5}", NULL), MCRX_ERROR_INVALID_ARGUMENT);
    write_text(tmp_path("created.jsonl"),
               "{\"schema\":\"heimdall-jsonl-v1\",\"artifact_type\":\"a\",\"node_id\":\"n\","
               "\"producer\":\"p\",\"created_at\":1.7976931348623157e308,\"flags\":{}}\n");
    assert_int_equal(mcrx_jsonl_validate_file(tmp_path("created.jsonl")), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_jsonl_merge_flags("{\"x\":1.5}", "{\"y\":-0.5e1}", out, sizeof out),
                     MCRX_ERROR_NONE);
    assert_string_equal(out, "{\"x\":1.5,\"y\":-0.5e1}");

    setlocale(LC_ALL, "C");
    if (locdir[sizeof locdir - 7] != 'X') {
        unsetenv("LOCPATH");
        snprintf(cmd, sizeof cmd, "rm -rf %s", locdir);
        assert_int_equal(system(cmd), 0);
    }
}

/* ---- the thread's slot, written by companion libraries ------------------------------------ */

static void companion_libraries_report_through_the_thread_slot(void **state) {
    (void)state;
    clear_thread_error();
    assert_int_equal(mcrx_last_error_set(MCRX_ERROR_IO_FAILED, "cannot open x"),
                     MCRX_ERROR_IO_FAILED);
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_IO_FAILED);
    assert_string_equal(mcrx_last_error(), "MCRX: file input/output failed: cannot open x");
    assert_int_equal(mcrx_last_error_set(MCRX_ERROR_BUSY, NULL), MCRX_ERROR_BUSY);
    assert_string_equal(mcrx_last_error(), "MCRX: busy");
    assert_int_equal(mcrx_last_error_set(MCRX_ERROR_NONE, "ignored"), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NONE);
    assert_string_equal(mcrx_last_error(), "");
    EXPECT_NULL_THREAD(mcrx_last_error_set((mcrx_error)MCRX_ERROR_COUNT_, "x"));
    EXPECT_NULL_THREAD(mcrx_last_error_set((mcrx_error)-1, NULL));
}

static int setup(void **state) {
    (void)state;
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(null_pointers_in_address_and_config_functions),
        cmocka_unit_test(null_pointers_in_context_and_subscription_calls),
        cmocka_unit_test(null_pointers_in_the_c_abi),
        cmocka_unit_test(null_pointers_in_metrics_and_jsonl),
        cmocka_unit_test(short_buffers_are_reported),
        cmocka_unit_test(deep_nesting_is_refused_without_recursing),
        cmocka_unit_test(numbers_follow_rfc8259),
        cmocka_unit_test(trailing_garbage_is_refused),
        cmocka_unit_test(strings_and_keys_must_be_unambiguous_text),
        cmocka_unit_test(the_writer_never_writes_invalid_json),
        cmocka_unit_test(numbers_do_not_depend_on_lc_numeric),
        cmocka_unit_test(companion_libraries_report_through_the_thread_slot),
    };
    return cmocka_run_group_tests_name("badinput", tests, setup, teardown);
}
