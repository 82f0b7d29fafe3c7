/*
 * Every error path keeps its promise: each public function of libmcrx-core
 * (and of libmcrx-core-uv when it is built), called with NULL for each
 * pointer argument and with bad values (unknown ids, out-of-range indexes,
 * calls in the wrong state, sockets that are not what they claim), either
 * returns its documented neutral value or fails with a kind that is not
 * MCRX_ERROR_NONE and a message that begins "MCRX: " and names a cause: on
 * the handle it was given, else in the thread's mcrx_last_error(). Handle
 * calls also answer the C ABI's status for that kind (1 bad argument, 2
 * error, 3 already running).
 *
 * Every call goes through W(), which records the function as walked; the last
 * test reads the exported functions of the built shared libraries with
 * `nm -D --defined-only` and fails for any the walk never called, so a new
 * public function cannot escape it.
 *
 * Unit test: sockets on loopback (a join on 127.0.0.1), no traffic.
 *
 * usage: test_api_errors LIBMCRX_CORE_SO LIBMCRX_CORE_JSONL_SO [LIBMCRX_CORE_UV_SO]
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <mcrx/jsonl.h>
#include <mcrx/mcrx.h>
#include <mcrx/raw.h>
#ifdef MCRX_API_WALK_UV
#include <mcrx/mcrx_uv.h>
#endif

/* ---- the walk's bookkeeping ------------------------------------------------------------ */

/* Exported, but being moved into a library of their own (the JSONL reader):
 * test_badinput.c covers them meanwhile. */

static const char *walked[256];
static size_t nwalked;
static unsigned long ncalls; /* calls checked, for the summary */

static void walk_mark(const char *name) {
    size_t i;
    for (i = 0; i < nwalked; i++)
        if (strcmp(walked[i], name) == 0)
            return;
    assert_true(nwalked < sizeof walked / sizeof walked[0]);
    walked[nwalked++] = name;
}

/* W(mcrx_x)(args): calls mcrx_x and records that the walk reached it. */
#define W(fn) (walk_mark(#fn), fn)

/* ---- what a failure must leave behind ------------------------------------------------------- */

#define ANY_KIND (-1) /* any kind but NONE */

/* The status a handle call answers for kind (mcrx_core_ffi.h, mcrx.h). */
static int status_of(int kind) {
    switch (kind) {
    case MCRX_ERROR_NONE:
        return MCRX_STATUS_OK;
    case MCRX_ERROR_INVALID_ARGUMENT:
    case MCRX_ERROR_INVALID_ADDRESS:
    case MCRX_ERROR_INVALID_INTERFACE:
        return MCRX_STATUS_INVALID_ARGUMENT;
    case MCRX_ERROR_ALREADY_RUNNING:
        return MCRX_STATUS_ALREADY_RUNNING;
    default:
        return MCRX_STATUS_ERROR;
    }
}

static void check_message(const char *call, const char *msg) {
    if (msg == NULL)
        fail_msg("%s: message is NULL", call);
    if (strncmp(msg, "MCRX: ", 6) != 0 || msg[6] == '\0' || msg[6] == ' ')
        fail_msg("%s: message \"%s\" does not begin \"MCRX: \" and name a cause", call, msg);
}

static void check_failure(const char *call, int kind, int want, const char *msg) {
    if (kind == MCRX_ERROR_NONE)
        fail_msg("%s: failed, but the kind is NONE (message \"%s\")", call, msg ? msg : "");
    if (want != ANY_KIND && kind != want)
        fail_msg("%s: kind %s, expected %s (message \"%s\")", call, mcrx_error_name(kind),
                 mcrx_error_name(want), msg ? msg : "");
    check_message(call, msg);
    if (getenv("MCRX_API_WALK_VERBOSE") != NULL)
        print_message("%-28s %s\n      <- %s\n", mcrx_error_name(kind), msg, call);
    ncalls++;
}

/* A success clears the thread's slot, so what a call leaves is its own. */
static void reset_thread(void) {
    mcrx_ip ip;
    assert_int_equal(mcrx_ip_parse("127.0.0.1", &ip), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NONE);
}

static void reset_context(mcrx_context *ctx) {
    mcrx_context_metrics m;
    assert_int_equal(mcrx_context_metrics_get(ctx, &m), 0);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_NONE);
}

static void reset_subscription(mcrx_subscription *sub) {
    mcrx_subscription_metrics m;
    assert_int_equal(mcrx_subscription_metrics_get(sub, &m), 0);
    assert_int_equal(mcrx_subscription_last_error_code(sub), MCRX_ERROR_NONE);
}

/* A function without a handle returns the kind; its message is the thread's. */
#define FAIL_PURE(call, kind)                                                                  \
    do {                                                                                       \
        int r_;                                                                                \
        reset_thread();                                                                        \
        r_ = (int)(call);                                                                      \
        if ((kind) != ANY_KIND && r_ != (kind))                                                \
            fail_msg("%s: returned %d, expected %d", #call, r_, (int)(kind));                  \
        if (r_ == MCRX_ERROR_NONE)                                                             \
            fail_msg("%s: succeeded", #call);                                                  \
        check_failure(#call, mcrx_last_error_code(), (kind), mcrx_last_error());               \
        if (r_ != (int)mcrx_last_error_code())                                                 \
            fail_msg("%s: returned %d, the thread holds %d", #call, r_,                        \
                     (int)mcrx_last_error_code());                                             \
    } while (0)

/* A handle call given a NULL handle: a status, and the thread's slot. */
#define FAIL_THREAD(call, kind)                                                                \
    do {                                                                                       \
        int r_;                                                                                \
        reset_thread();                                                                        \
        r_ = (call);                                                                           \
        if (r_ != status_of(kind))                                                             \
            fail_msg("%s: status %d, expected %d", #call, r_, status_of(kind));                \
        check_failure(#call, mcrx_last_error_code(), (kind), mcrx_last_error());               \
    } while (0)

/* A call on a context: a status, and the context's kind and message. */
#define FAIL_CTX(ctx, call, kind)                                                              \
    do {                                                                                       \
        int r_, k_;                                                                            \
        reset_context(ctx);                                                                    \
        r_ = (call);                                                                           \
        k_ = (int)mcrx_context_last_error_code(ctx);                                           \
        if (r_ != status_of((kind) == ANY_KIND ? k_ : (kind)) || r_ == MCRX_STATUS_OK)         \
            fail_msg("%s: status %d for kind %s", #call, r_, mcrx_error_name(k_));             \
        check_failure(#call, k_, (kind), mcrx_context_last_error(ctx));                        \
    } while (0)

/* A call on a subscription: a status, and the subscription's kind and message. */
#define FAIL_SUB(sub, call, kind)                                                              \
    do {                                                                                       \
        int r_, k_;                                                                            \
        reset_subscription(sub);                                                               \
        r_ = (call);                                                                           \
        k_ = (int)mcrx_subscription_last_error_code(sub);                                      \
        if (r_ != status_of((kind) == ANY_KIND ? k_ : (kind)) || r_ == MCRX_STATUS_OK)         \
            fail_msg("%s: status %d for kind %s", #call, r_, mcrx_error_name(k_));             \
        check_failure(#call, k_, (kind), mcrx_subscription_last_error(sub));                   \
    } while (0)

/* A documented non-failure (a neutral value, or "not an error"). */
#define SAME(call, value)                                                                      \
    do {                                                                                       \
        if ((call) != (value))                                                                 \
            fail_msg("%s: expected %s", #call, #value);                                        \
        ncalls++;                                                                              \
    } while (0)

#define VOID_CALL(call)                                                                        \
    do {                                                                                       \
        call;                                                                                  \
        ncalls++;                                                                              \
    } while (0)

/* ---- fixtures ------------------------------------------------------------------------------- */

#define GROUP "239.255.77.1"
#define PORT 42977

static void on_packet(const McrxPacketView *packet, void *user) {
    (void)packet;
    (void)user;
}

/* A context with one bound subscription on loopback: a socket, no traffic. */
typedef struct fixture {
    mcrx_context *ctx;
    mcrx_subscription *sub;
    mcrx_subscription_config cfg;
    uint64_t id;
} fixture;

static void fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    f->ctx = mcrx_context_new();
    assert_non_null(f->ctx);
    assert_int_equal(mcrx_subscription_config_parse(&f->cfg, GROUP, PORT, NULL, "127.0.0.1"),
                     MCRX_ERROR_NONE);
    assert_int_equal(mcrx_context_add(f->ctx, &f->cfg, &f->id), 0);
    f->sub = mcrx_context_get_subscription(f->ctx, f->id);
    assert_non_null(f->sub);
}

/* Makes fd refer to /dev/null: the library still owns the number (and
 * closes it once), but it is no socket any more. */
static void replace_with_devnull(mcrx_sock sock) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, (int)sock), (int)sock);
    close(fd);
}

static char tmpdir[] = "/tmp/mcrx-apierr-XXXXXX";

static const char *tmp_path(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* ---- errors and addresses ---------------------------------------------------------------- */

static void error_texts_exist_for_every_kind(void **state) {
    static const int out_of_range[] = {-1, MCRX_ERROR_COUNT_, MCRX_ERROR_COUNT_ + 1, INT_MIN,
                                       INT_MAX};
    size_t i;
    int k;
    (void)state;
    for (k = 1; k < MCRX_ERROR_COUNT_; k++) {
        check_message(mcrx_error_name(k), W(mcrx_error_message)(k));
        assert_true(strlen(W(mcrx_error_name)(k)) > 0);
        ncalls += 2;
    }
    for (i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        check_message("mcrx_error_message(out of range)", W(mcrx_error_message)(out_of_range[i]));
        assert_string_equal(W(mcrx_error_name)(out_of_range[i]), "UNKNOWN");
        ncalls += 2;
    }
    /* The thread's slot after a failure, and after a success. */
    FAIL_PURE(mcrx_ip_parse("x", NULL), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(W(mcrx_last_error_code)(), MCRX_ERROR_INVALID_ARGUMENT);
    check_message("mcrx_last_error", W(mcrx_last_error)());
    reset_thread();
    assert_string_equal(mcrx_last_error(), "");
    /* Companion libraries record through the same slot. */
    FAIL_PURE(W(mcrx_last_error_set)((mcrx_error)MCRX_ERROR_COUNT_, "x"),
              MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(mcrx_last_error_set((mcrx_error)-1, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(mcrx_last_error_set(MCRX_ERROR_IO_FAILED, NULL), MCRX_ERROR_IO_FAILED);
    assert_int_equal(mcrx_last_error_set(MCRX_ERROR_NONE, "ignored"), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NONE);
    assert_string_equal(mcrx_last_error(), "");
    /* The reader library (mcrx-core-jsonl) keeps the same promise. */
    {
        char out[64];
        FAIL_PURE(W(mcrx_jsonl_validate_file)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
        FAIL_PURE(W(mcrx_jsonl_merge_flags)(NULL, "{}", out, sizeof out),
                  MCRX_ERROR_INVALID_ARGUMENT);
        FAIL_PURE(mcrx_jsonl_merge_flags("{}", NULL, out, sizeof out), MCRX_ERROR_INVALID_ARGUMENT);
        FAIL_PURE(mcrx_jsonl_merge_flags("{}", "{}", NULL, 0), MCRX_ERROR_INVALID_ARGUMENT);
        FAIL_PURE(mcrx_jsonl_merge_flags("[", "{}", out, sizeof out), ANY_KIND);
        FAIL_PURE(mcrx_jsonl_validate_file("/nonexistent/mcrx/x.jsonl"), ANY_KIND);
    }
    assert_non_null(W(mcrx_ffi_version)());
    assert_string_equal(mcrx_ffi_version(), MCRX_VERSION_STRING);
    ncalls += 4;
}

static void address_functions_refuse_null_and_bad_text(void **state) {
    mcrx_ip ip, mc, junk;
    char text[MCRX_IP_STRLEN], longtext[600];
    struct sockaddr_storage ss;
    struct sockaddr_un un;
    uint16_t port;
    (void)state;
    assert_int_equal(mcrx_ip_parse(GROUP, &mc), MCRX_ERROR_NONE);
    memset(longtext, '1', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';

    FAIL_PURE(W(mcrx_ip_parse)(NULL, &ip), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_ip_parse)(GROUP, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_ip_parse)("", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)("239.255.77", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)("256.1.1.1", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)("fe80::1%", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)("fe80::1%0", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)("fe80::1%no-such-if0", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)("10.0.0.1%1", &ip), MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_ip_parse)(longtext, &ip), MCRX_ERROR_INVALID_ADDRESS);

    memset(&junk, 0, sizeof junk);
    junk.family = 9;
    SAME(W(mcrx_ip_format)(NULL, text, sizeof text), 0);
    SAME(W(mcrx_ip_format)(&mc, NULL, sizeof text), 0);
    SAME(W(mcrx_ip_format)(&mc, text, 0), 0);
    SAME(W(mcrx_ip_format)(&mc, text, 4), 0); /* too small */
    SAME(W(mcrx_ip_format)(&junk, text, sizeof text), 0);
    SAME(W(mcrx_ip_equal)(NULL, &mc), 0);
    SAME(W(mcrx_ip_equal)(&mc, NULL), 0);
    SAME(W(mcrx_ip_equal)(&junk, &junk), 1); /* same family, nothing to compare */
    SAME(W(mcrx_ip_is_multicast)(NULL), 0);
    SAME(W(mcrx_ip_is_multicast)(&junk), 0);
    SAME(W(mcrx_ip_to_sockaddr)(NULL, 1, &ss, sizeof ss), 0);
    SAME(W(mcrx_ip_to_sockaddr)(&mc, 1, NULL, sizeof ss), 0);
    SAME(W(mcrx_ip_to_sockaddr)(&mc, 1, &ss, 3), 0);
    SAME(W(mcrx_ip_to_sockaddr)(&junk, 1, &ss, sizeof ss), 0);

    assert_true(mcrx_ip_to_sockaddr(&mc, 7, &ss, sizeof ss) > 0);
    FAIL_PURE(W(mcrx_ip_from_sockaddr)(NULL, &ip, &port), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_ip_from_sockaddr)((struct sockaddr *)&ss, NULL, &port),
              MCRX_ERROR_INVALID_ARGUMENT);
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    FAIL_PURE(W(mcrx_ip_from_sockaddr)((struct sockaddr *)&un, &ip, &port),
              MCRX_ERROR_NON_IP_SOCKET_ADDRESS);
}

/* ---- configs -------------------------------------------------------------------------------- */

static mcrx_subscription_config config(const char *group, uint16_t port, const char *source) {
    mcrx_subscription_config c;
    assert_int_equal(mcrx_subscription_config_parse(&c, group, port, source, NULL),
                     MCRX_ERROR_NONE);
    return c;
}

static void config_functions_report_each_validation_kind(void **state) {
    mcrx_subscription_config c;
    mcrx_ip ip;
    int64_t idx;
    (void)state;
    VOID_CALL(W(mcrx_subscription_config_init)(NULL));
    SAME(W(mcrx_subscription_config_is_ssm)(NULL), 0);

    FAIL_PURE(W(mcrx_subscription_config_validate)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
    memset(&c, 0, sizeof c); /* never initialised: version 0 */
    FAIL_PURE(W(mcrx_subscription_config_validate)(&c), MCRX_ERROR_INVALID_ARGUMENT);
    c = config(GROUP, 0, NULL);
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_DESTINATION_PORT);
    c = config("10.1.2.3", PORT, NULL);
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_MULTICAST_GROUP);
    c = config("232.1.2.3", PORT, NULL);
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    c = config("232.1.2.3", PORT, "0.0.0.0");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    c = config("232.1.2.3", PORT, "255.255.255.255");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    c = config("232.1.2.3", PORT, "2001:db8::1");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH);
    c = config(GROUP, PORT, "192.0.2.1");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_IPV4_SSM_GROUP);
    c = config("ff0e::1", PORT, "2001:db8::1");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_IPV6_SSM_GROUP);
    c = config(GROUP, PORT, NULL);
    assert_int_equal(mcrx_ip_parse("::1", &c.interface), MCRX_ERROR_NONE);
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH);
    c = config("ff0e::1", PORT, NULL);
    c.interface_index = 0;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_INTERFACE_INDEX);
    c.interface_index = (int64_t)UINT32_MAX + 1;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_INTERFACE_INDEX);
    c = config(GROUP, PORT, NULL);
    c.interface_index = 1;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INTERFACE_INDEX_REQUIRES_IPV6);

    FAIL_PURE(W(mcrx_subscription_config_parse)(NULL, GROUP, PORT, NULL, NULL),
              MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_subscription_config_parse)(&c, NULL, PORT, NULL, NULL),
              MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_subscription_config_parse)(&c, "no group", PORT, NULL, NULL),
              MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_subscription_config_parse)(&c, "232.1.2.3", PORT, "no source", NULL),
              MCRX_ERROR_INVALID_ADDRESS);
    FAIL_PURE(W(mcrx_subscription_config_parse)(&c, GROUP, PORT, NULL, "no interface"),
              MCRX_ERROR_INVALID_INTERFACE);
    FAIL_PURE(W(mcrx_subscription_config_parse)(&c, "ff0e::1", PORT, NULL, "0"),
              MCRX_ERROR_INVALID_INTERFACE_INDEX);

    FAIL_PURE(W(mcrx_parse_interface)(NULL, MCRX_IP_V6, &ip, &idx), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_parse_interface)("7", MCRX_IP_V6, NULL, &idx), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_parse_interface)("7", MCRX_IP_V6, &ip, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_parse_interface)("", MCRX_IP_V6, &ip, &idx), MCRX_ERROR_INVALID_INTERFACE);
    FAIL_PURE(W(mcrx_parse_interface)("0", MCRX_IP_V6, &ip, &idx),
              MCRX_ERROR_INVALID_INTERFACE_INDEX);
    FAIL_PURE(W(mcrx_parse_interface)("99999999999", MCRX_IP_V6, &ip, &idx),
              MCRX_ERROR_INVALID_INTERFACE);
    FAIL_PURE(W(mcrx_parse_interface)("fe80::1%no-such-if0", MCRX_IP_V6, &ip, &idx),
              MCRX_ERROR_INVALID_INTERFACE);
    FAIL_PURE(W(mcrx_parse_interface)("fe80::1%4294967296", MCRX_IP_V6, &ip, &idx),
              MCRX_ERROR_INVALID_INTERFACE);
    FAIL_PURE(W(mcrx_parse_interface)("7", MCRX_IP_V4, &ip, &idx), MCRX_ERROR_INVALID_INTERFACE);
    FAIL_PURE(W(mcrx_parse_interface)("7", 99, &ip, &idx), MCRX_ERROR_INVALID_INTERFACE);
}

/* ---- source filters (RFC 3678 lists, full state) ---------------------------------------- */

static mcrx_ip ip_of(const char *text) {
    mcrx_ip ip;
    assert_int_equal(mcrx_ip_parse(text, &ip), MCRX_ERROR_NONE);
    return ip;
}

static void source_lists_report_each_validation_kind(void **state) {
    mcrx_subscription_config c;
    mcrx_ip two[2];
    (void)state;
    two[0] = ip_of("192.0.2.1");
    two[1] = ip_of("192.0.2.2");
    c = config("232.1.2.3", PORT, NULL);
    c.sources_mode = MCRX_SOURCES_INCLUDE;
    c.nsources = 2;
    c.sources = two;
    SAME(mcrx_subscription_config_validate(&c), MCRX_ERROR_NONE);
    SAME(mcrx_subscription_config_is_ssm(&c), 1);
    c.nsources = 0;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_FILTER);
    assert_non_null(strstr(mcrx_last_error(), "at least one source"));
    c.nsources = 2;
    c.sources = NULL;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_FILTER);
    c.sources = two;
    c.source = two[0]; /* source and a list together */
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_FILTER);
    assert_non_null(strstr(mcrx_last_error(), "source and a sources list together"));
    memset(&c.source, 0, sizeof c.source);
    c.sources_mode = 7;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_FILTER);
    c.sources_mode = MCRX_SOURCES_NONE; /* a count without a mode */
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_FILTER);
    /* INCLUDE follows source's address and family rules */
    /* ... but also on an ASM-range group: source filtering (RFC 3678) */
    c = config(GROUP, PORT, NULL);
    c.sources_mode = MCRX_SOURCES_INCLUDE;
    c.nsources = 2;
    c.sources = two;
    SAME(mcrx_subscription_config_validate(&c), MCRX_ERROR_NONE);
    c = config("ff3e::1", PORT, NULL);
    c.sources_mode = MCRX_SOURCES_INCLUDE;
    c.nsources = 2;
    c.sources = two;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH);
    c = config("232.1.2.3", PORT, NULL);
    c.sources_mode = MCRX_SOURCES_INCLUDE;
    c.nsources = 2;
    c.sources = two;
    two[1] = ip_of("0.0.0.0");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    two[1] = ip_of("239.1.1.1");
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    two[1] = ip_of("192.0.2.2");
    /* EXCLUDE is ASM: an SSM-range group refuses it */
    c.sources_mode = MCRX_SOURCES_EXCLUDE;
    FAIL_PURE(mcrx_subscription_config_validate(&c), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    assert_non_null(strstr(mcrx_last_error(), "EXCLUDE"));
    c = config(GROUP, PORT, NULL);
    c.sources_mode = MCRX_SOURCES_EXCLUDE;
    c.nsources = 2;
    c.sources = two;
    SAME(mcrx_subscription_config_validate(&c), MCRX_ERROR_NONE);
    SAME(mcrx_subscription_config_is_ssm(&c), 0);
    c.nsources = 0; /* EXCLUDE{} is plain ASM */
    SAME(mcrx_subscription_config_validate(&c), MCRX_ERROR_NONE);
    /* A version 1 config: the list fields are not read at all */
    c = config(GROUP, PORT, NULL);
    c.version = 1;
    c.sources_mode = 99;
    c.nsources = 5;
    SAME(mcrx_subscription_config_validate(&c), MCRX_ERROR_NONE);
}

static void set_sources_refuses_bad_lists_and_duplicates(void **state) {
    fixture f;
    mcrx_subscription_config c, *v1;
    const mcrx_subscription_config *got;
    mcrx_subscription *taken;
    mcrx_ip list[3];
    uint64_t id2, id3;
    (void)state;
    fixture_open(&f);
    list[0] = ip_of("192.0.2.9");
    list[1] = ip_of("192.0.2.3");
    list[2] = ip_of("192.0.2.9"); /* a repeat: normalised away */

    FAIL_THREAD(W(mcrx_context_set_sources)(NULL, f.id, MCRX_SOURCES_EXCLUDE, list, 1),
                MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_set_sources)(f.ctx, f.id + 1000, MCRX_SOURCES_NONE, NULL, 0),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, f.id, MCRX_SOURCES_EXCLUDE, NULL, 2),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, f.id, MCRX_SOURCES_INCLUDE, NULL, 0),
             MCRX_ERROR_INVALID_SOURCE_FILTER);
    c.group = ip_of("2001:db8::5"); /* only its address is used */
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, f.id, MCRX_SOURCES_INCLUDE, &c.group, 1),
             MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH);
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, f.id, MCRX_SOURCES_NONE, list, 2),
             MCRX_ERROR_INVALID_SOURCE_FILTER);
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, f.id, 3, list, 2),
             MCRX_ERROR_INVALID_SOURCE_FILTER);
    /* the failures changed nothing */
    got = mcrx_subscription_get_config(f.sub);
    assert_int_equal(got->sources_mode, MCRX_SOURCES_NONE);
    assert_int_equal(got->nsources, 0);

    /* EXCLUDE{9, 3, 9}: stored sorted, without the repeat, in the
     * subscription's own copy */
    SAME(mcrx_context_set_sources(f.ctx, f.id, MCRX_SOURCES_EXCLUDE, list, 3), MCRX_STATUS_OK);
    got = mcrx_subscription_get_config(f.sub);
    assert_int_equal(got->sources_mode, MCRX_SOURCES_EXCLUDE);
    assert_int_equal(got->nsources, 2);
    assert_ptr_not_equal(got->sources, list);
    assert_true(mcrx_ip_equal(&got->sources[0], &list[1]));
    assert_true(mcrx_ip_equal(&got->sources[1], &list[0]));

    /* Another subscription with the same filter in another order is a
     * duplicate, at add and at set_sources. */
    c = f.cfg;
    c.sources_mode = MCRX_SOURCES_EXCLUDE;
    c.sources = list;
    c.nsources = 2;
    list[0] = ip_of("192.0.2.3");
    list[1] = ip_of("192.0.2.9");
    FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &c, &id2), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    c.nsources = 1;
    SAME(mcrx_context_add(f.ctx, &c, &id2), MCRX_STATUS_OK);
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, id2, MCRX_SOURCES_EXCLUDE, list, 2),
             MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    assert_int_equal(mcrx_subscription_get_config(mcrx_context_get_subscription(f.ctx, id2))
                         ->nsources, 1); /* unchanged */

    /* A version 1 config (an older caller's shorter struct, on the heap so
     * a read past it is caught) with source S equals a version 2 INCLUDE{S}. */
    {
        /* Written as bytes: a store through the full struct type would be
         * out of bounds in the compiler's eyes, as it would be in C. */
        const size_t v1_size = offsetof(mcrx_subscription_config, sources_mode);
        const uint32_t one = 1;
        unsigned char *raw = malloc(v1_size);
        assert_non_null(raw);
        c = config("232.1.2.3", PORT, "192.0.2.3");
        memcpy(raw, &c, v1_size);
        memcpy(raw + offsetof(mcrx_subscription_config, version), &one, sizeof one);
        v1 = (mcrx_subscription_config *)(void *)raw;
    }
    SAME(mcrx_context_add(f.ctx, v1, &id3), MCRX_STATUS_OK);
    free(v1);
    got = mcrx_subscription_get_config(mcrx_context_get_subscription(f.ctx, id3));
    assert_int_equal(got->sources_mode, MCRX_SOURCES_NONE);
    assert_int_equal(got->nsources, 0);
    assert_null(got->sources);
    c = config("232.1.2.3", PORT, NULL);
    c.sources_mode = MCRX_SOURCES_INCLUDE;
    c.sources = list;
    c.nsources = 1;
    FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &c, &id2), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    /* back to ASM on an SSM-range group: refused */
    FAIL_CTX(f.ctx, mcrx_context_set_sources(f.ctx, id3, MCRX_SOURCES_NONE, NULL, 0),
             MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);

    /* the subscription's own calls: through its context, then taken */
    FAIL_THREAD(W(mcrx_subscription_set_sources)(NULL, MCRX_SOURCES_NONE, NULL, 0),
                MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_set_sources)(f.sub, MCRX_SOURCES_INCLUDE, NULL, 0),
             MCRX_ERROR_INVALID_SOURCE_FILTER);
    SAME(mcrx_subscription_set_sources(f.sub, MCRX_SOURCES_NONE, NULL, 0), MCRX_STATUS_OK);
    assert_int_equal(mcrx_subscription_get_config(f.sub)->sources_mode, MCRX_SOURCES_NONE);
    assert_int_equal(mcrx_context_take_subscription(f.ctx, f.id, &taken), 0);
    FAIL_SUB(taken, mcrx_subscription_set_sources(taken, MCRX_SOURCES_EXCLUDE, NULL, 1),
             MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_subscription_set_sources(taken, MCRX_SOURCES_EXCLUDE, list, 2), MCRX_STATUS_OK);
    assert_int_equal(mcrx_subscription_get_config(taken)->nsources, 2);
    mcrx_subscription_free(taken);
    mcrx_context_free(f.ctx);
}

static void datagram_setup_with_null_makes_no_usable_slot(void **state) {
    mcrx_datagram dgs[2];
    unsigned char arena[16];
    (void)state;
    VOID_CALL(W(mcrx_datagram_init)(NULL, arena, sizeof arena));
    VOID_CALL(W(mcrx_datagrams_init)(NULL, 2, arena, 8, NULL));
    memset(dgs, 0xa5, sizeof dgs);
    VOID_CALL(W(mcrx_datagrams_init)(dgs, 0, arena, 8, NULL)); /* no slot: nothing written */
    assert_int_equal(dgs[0].cap == 8, 0);
    VOID_CALL(W(mcrx_datagrams_init)(dgs, 2, NULL, 8, NULL));
    assert_null(dgs[0].buf);
    assert_null(dgs[1].buf);
}

/* ---- contexts --------------------------------------------------------------------------- */

static void context_calls_refuse_null_and_unknown_ids(void **state) {
    fixture f;
    mcrx_subscription *taken = (mcrx_subscription *)&taken;
    mcrx_datagram dg, dgs[2];
    unsigned char buf[64];
    size_t got;
    uint64_t id;
    int ready;
    (void)state;
    fixture_open(&f);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    mcrx_datagrams_init(dgs, 2, buf, 32, NULL);

    VOID_CALL(W(mcrx_context_free)(NULL));
    SAME(W(mcrx_context_subscription_count)(NULL), 0);
    {
        /* Backend choice: NULL, uninitialised, unknown or out-of-range
         * options are refused on the thread's slot; the defaults are UDP. */
        mcrx_context_options o;
        mcrx_context *c;
        VOID_CALL(W(mcrx_context_options_init)(NULL));
        SAME(W(mcrx_context_backend)(NULL), NULL);
        SAME(strcmp(mcrx_context_backend(f.ctx), "udp"), 0);
        reset_thread();
        SAME(W(mcrx_context_new_with_options)(NULL), NULL);
        check_failure("mcrx_context_new_with_options(NULL)", mcrx_last_error_code(),
                      MCRX_ERROR_INVALID_ARGUMENT, mcrx_last_error());
        memset(&o, 0, sizeof o);
        reset_thread();
        SAME(mcrx_context_new_with_options(&o), NULL);
        check_failure("mcrx_context_new_with_options(version 0)", mcrx_last_error_code(),
                      MCRX_ERROR_INVALID_ARGUMENT, mcrx_last_error());
        mcrx_context_options_init(&o);
        o.backend = 9;
        reset_thread();
        SAME(mcrx_context_new_with_options(&o), NULL);
        check_failure("mcrx_context_new_with_options(backend 9)", mcrx_last_error_code(),
                      MCRX_ERROR_INVALID_ARGUMENT, mcrx_last_error());
        mcrx_context_options_init(&o);
        c = mcrx_context_new_with_options(&o);
        SAME(c != NULL, 1);
        SAME(strcmp(mcrx_context_backend(c), "udp"), 0);
        mcrx_context_free(c);
    }
    SAME(W(mcrx_context_fd)(NULL), MCRX_SOCK_INVALID);
    {
        mcrx_sock socks[2];
        size_t n = 99;
        FAIL_THREAD(W(mcrx_context_sockets)(NULL, socks, 2, &n), MCRX_ERROR_INVALID_ARGUMENT);
        FAIL_CTX(f.ctx, mcrx_context_sockets(f.ctx, socks, 2, NULL), MCRX_ERROR_INVALID_ARGUMENT);
        FAIL_CTX(f.ctx, mcrx_context_sockets(f.ctx, NULL, 2, &n), MCRX_ERROR_INVALID_ARGUMENT);
        /* cap 0 sizes the list; the fixture's one subscription is not joined */
        SAME(mcrx_context_sockets(f.ctx, NULL, 0, &n), MCRX_STATUS_OK);
        assert_int_equal(n, 0);
    }
    SAME(W(mcrx_context_contains_subscription)(NULL, f.id), 0);
    SAME(W(mcrx_context_contains_subscription)(f.ctx, f.id + 1000), 0);
    SAME(W(mcrx_context_contains_subscription)(f.ctx, 0), 0);
    SAME(W(mcrx_context_get_subscription)(NULL, f.id), NULL);
    SAME(W(mcrx_context_get_subscription)(f.ctx, f.id + 1000), NULL);
    SAME(W(mcrx_context_get_subscription)(f.ctx, 0), NULL);
    SAME(W(mcrx_context_subscription_at)(NULL, 0), NULL);
    SAME(W(mcrx_context_subscription_at)(f.ctx, 1), NULL); /* count is 1 */
    SAME(W(mcrx_context_subscription_at)(f.ctx, SIZE_MAX), NULL);

    FAIL_THREAD(W(mcrx_context_add)(NULL, &f.cfg, &id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_add)(f.ctx, NULL, &id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_add)(f.ctx, &f.cfg, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &f.cfg, &id), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    {
        mcrx_subscription_config c;
        memset(&c, 0, sizeof c);
        FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &c, &id), MCRX_ERROR_INVALID_ARGUMENT);
        c = config(GROUP, 0, NULL);
        FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &c, &id), MCRX_ERROR_INVALID_DESTINATION_PORT);
        c = config("232.1.2.3", PORT, NULL);
        FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &c, &id), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
        c = config("ff0e::1", PORT, NULL);
        c.interface_index = 0x7ffffff0; /* no such interface */
        FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &c, &id), MCRX_ERROR_INTERFACE_DISCOVERY_FAILED);
        assert_int_equal(mcrx_context_subscription_count(f.ctx), 1);
        /* An IPv4 address no interface has: the join fails (as in the Rust crate). */
        c = config(GROUP, PORT, NULL);
        assert_int_equal(mcrx_ip_parse("192.0.2.254", &c.interface), MCRX_ERROR_NONE);
        assert_int_equal(mcrx_context_add(f.ctx, &c, &id), 0);
        FAIL_CTX(f.ctx, W(mcrx_context_join_subscription)(f.ctx, id),
                 MCRX_ERROR_MULTICAST_JOIN_FAILED);
        assert_int_not_equal(mcrx_context_last_os_error(f.ctx), 0); /* the kernel's errno */
        assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(f.ctx, id)),
                         MCRX_STATE_BOUND); /* a failed join leaves the state */
        SAME(W(mcrx_context_remove_subscription)(f.ctx, id), MCRX_STATUS_OK);
        /* A socket that stopped being one: the join says what the OS said. */
        c = config(GROUP, PORT + 3, NULL);
        assert_int_equal(mcrx_context_add(f.ctx, &c, &id), 0);
        replace_with_devnull(mcrx_subscription_sock(mcrx_context_get_subscription(f.ctx, id)));
        FAIL_CTX(f.ctx, mcrx_context_join_subscription(f.ctx, id),
                 MCRX_ERROR_MULTICAST_JOIN_FAILED);
        assert_int_equal(mcrx_context_last_os_error(f.ctx), ENOTSOCK);
        SAME(mcrx_context_remove_subscription(f.ctx, id), MCRX_STATUS_OK);
    }
    assert_int_equal(mcrx_context_subscription_count(f.ctx), 1);

    FAIL_THREAD(W(mcrx_context_take_subscription)(NULL, f.id, &taken),
                MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_take_subscription)(f.ctx, f.id, NULL),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_take_subscription)(f.ctx, f.id + 1000, &taken),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    assert_null(taken);
    assert_int_equal(mcrx_context_contains_subscription(f.ctx, f.id), 1);

    FAIL_THREAD(W(mcrx_context_recv)(NULL, &dg, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_recv)(f.ctx, NULL, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_recv)(f.ctx, &dg, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_context_recv_batch)(NULL, dgs, 2, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_recv_batch)(f.ctx, NULL, 2, &got),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_recv_batch)(f.ctx, dgs, 2, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    dgs[1].buf = NULL; /* the second slot has no buffer */
    got = 99;
    FAIL_CTX(f.ctx, mcrx_context_recv_batch(f.ctx, dgs, 2, &got), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(got, 0);
    mcrx_datagram_init(&dg, NULL, 64);
    FAIL_CTX(f.ctx, mcrx_context_recv(f.ctx, &dg, &got), MCRX_ERROR_INVALID_ARGUMENT);
    /* Nothing joined: no datagram now, which is not an error. */
    mcrx_datagram_init(&dg, buf, sizeof buf);
    SAME(mcrx_context_recv(f.ctx, &dg, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_context_last_error_code(f.ctx), MCRX_ERROR_NONE);

    FAIL_THREAD(W(mcrx_context_wait)(NULL, 0, &ready), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_wait)(f.ctx, 0, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_context_wait(f.ctx, 0, &ready), MCRX_STATUS_OK);
    assert_int_equal(ready, 0);

    mcrx_context_free(f.ctx);
}

static void sockets_handed_over_are_checked_before_use(void **state) {
    fixture f;
    mcrx_subscription_config other;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    uint64_t id;
    int s, devnull;
    (void)state;
    fixture_open(&f);
    /* Another port: not a duplicate of the fixture's config. */
    other = config(GROUP, PORT + 1, NULL);

    s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    FAIL_THREAD(W(mcrx_context_add_with_socket)(NULL, &other, s, &id),
                MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_add_with_socket)(f.ctx, NULL, s, &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_add_with_socket)(f.ctx, &other, s, NULL),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, MCRX_SOCK_INVALID, &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, -7, &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    /* not bound: port 0 */
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, s, &id),
             MCRX_ERROR_EXISTING_SOCKET_PORT_MISMATCH);
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&in, sizeof in), 0);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, s, &id),
             MCRX_ERROR_EXISTING_SOCKET_PORT_MISMATCH);
    close(s);

    s = socket(AF_INET6, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(other.dst_port);
    in6.sin6_addr = in6addr_any;
    assert_int_equal(bind(s, (struct sockaddr *)&in6, sizeof in6), 0);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, s, &id),
             MCRX_ERROR_EXISTING_SOCKET_ADDRESS_FAMILY_MISMATCH);
    close(s);

    s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, s, &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    close(s);

    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, s, &id),
             MCRX_ERROR_NON_IP_SOCKET_ADDRESS);
    close(s);

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(devnull >= 0);
    FAIL_CTX(f.ctx, mcrx_context_add_with_socket(f.ctx, &other, devnull, &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    close(devnull);

    /* The fixture's own socket: it has an owner already. */
    FAIL_CTX(f.ctx,
             mcrx_context_add_with_socket(f.ctx, &other, mcrx_subscription_sock(f.sub), &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_subscription_count(f.ctx), 1);
    mcrx_context_free(f.ctx);
}

/* ---- the C ABI ------------------------------------------------------------------------------- */

static void c_abi_answers_its_status_codes(void **state) {
    fixture f;
    uint64_t id;
    size_t got = 99;
    (void)state;
    fixture_open(&f);
    /* With a NULL context, the accessors read the thread's slot. */
    FAIL_PURE(mcrx_ip_parse(NULL, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    check_message("mcrx_context_last_error(NULL)", W(mcrx_context_last_error)(NULL));
    SAME(W(mcrx_context_last_error_code)(NULL), MCRX_ERROR_INVALID_ARGUMENT); /* the thread's */
    SAME(W(mcrx_context_last_os_error)(NULL), 0);

    FAIL_THREAD(W(mcrx_context_add_subscription)(NULL, GROUP, PORT, NULL, NULL, &id),
                MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_add_subscription)(f.ctx, NULL, PORT, NULL, NULL, &id),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_add_subscription)(f.ctx, GROUP, PORT + 2, NULL, NULL, NULL),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, "not-an-ip", PORT, NULL, NULL, &id),
             MCRX_ERROR_INVALID_ADDRESS);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, "232.1.2.3", PORT, "x", NULL, &id),
             MCRX_ERROR_INVALID_ADDRESS);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, GROUP, PORT, NULL, "x", &id),
             MCRX_ERROR_INVALID_INTERFACE);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, "ff0e::1", PORT, NULL, "0", &id),
             MCRX_ERROR_INVALID_INTERFACE_INDEX);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, GROUP, 0, NULL, NULL, &id),
             MCRX_ERROR_INVALID_DESTINATION_PORT);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, "10.0.0.1", PORT, NULL, NULL, &id),
             MCRX_ERROR_INVALID_MULTICAST_GROUP);
    FAIL_CTX(f.ctx, mcrx_context_add_subscription(f.ctx, GROUP, PORT, NULL, "127.0.0.1", &id),
             MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    assert_int_equal(mcrx_context_subscription_count(f.ctx), 1);

    /* lifecycle: unknown ids, wrong states */
    FAIL_THREAD(W(mcrx_context_join_subscription)(NULL, f.id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_context_leave_subscription)(NULL, f.id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_context_remove_subscription)(NULL, f.id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_join_subscription(f.ctx, f.id + 1000),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_CTX(f.ctx, mcrx_context_join_subscription(f.ctx, 0), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_CTX(f.ctx, mcrx_context_leave_subscription(f.ctx, f.id + 1000),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_CTX(f.ctx, mcrx_context_leave_subscription(f.ctx, f.id),
             MCRX_ERROR_SUBSCRIPTION_NOT_JOINED); /* leave before join */
    FAIL_CTX(f.ctx, mcrx_context_remove_subscription(f.ctx, f.id + 1000),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    assert_int_equal(strncmp(mcrx_context_last_error(f.ctx), "MCRX: subscription not found", 28),
                     0); /* the seed's exact text */
    SAME(mcrx_context_join_subscription(f.ctx, f.id), MCRX_STATUS_OK);
    FAIL_CTX(f.ctx, mcrx_context_join_subscription(f.ctx, f.id),
             MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED); /* second join */
    assert_int_equal(mcrx_subscription_state(f.sub), MCRX_STATE_JOINED);
    SAME(mcrx_context_leave_subscription(f.ctx, f.id), MCRX_STATUS_OK);
    FAIL_CTX(f.ctx, mcrx_context_leave_subscription(f.ctx, f.id),
             MCRX_ERROR_SUBSCRIPTION_NOT_JOINED); /* second leave */

    /* poll */
    FAIL_THREAD(W(mcrx_context_poll)(NULL, 1, on_packet, NULL, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_poll)(f.ctx, 1, on_packet, NULL, NULL),
             MCRX_ERROR_INVALID_ARGUMENT);
    got = 99;
    FAIL_CTX(f.ctx, W(mcrx_context_poll)(f.ctx, 1, NULL, NULL, &got), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(got, 0);
    SAME(mcrx_context_poll(f.ctx, 0, NULL, NULL, &got), MCRX_STATUS_OK);
    SAME(mcrx_context_poll(f.ctx, 8, on_packet, NULL, &got), MCRX_STATUS_OK);

    /* start and stop */
    FAIL_THREAD(W(mcrx_context_start)(NULL, on_packet, NULL, 0), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_start)(f.ctx, NULL, NULL, 0), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_context_stop)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_context_stop(f.ctx), MCRX_STATUS_OK); /* stop without start: not an error */
    SAME(mcrx_context_start(f.ctx, on_packet, NULL, 0), MCRX_STATUS_OK);
    FAIL_CTX(f.ctx, mcrx_context_start(f.ctx, on_packet, NULL, 0), MCRX_ERROR_ALREADY_RUNNING);
    FAIL_CTX(f.ctx, mcrx_context_start(f.ctx, NULL, NULL, 0), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_context_stop(f.ctx), MCRX_STATUS_OK);
    SAME(mcrx_context_stop(f.ctx), MCRX_STATUS_OK); /* a second stop */
    SAME(mcrx_context_start(f.ctx, on_packet, NULL, 0), MCRX_STATUS_OK);
    FAIL_CTX(f.ctx, mcrx_context_start(f.ctx, on_packet, NULL, 0), MCRX_ERROR_ALREADY_RUNNING);
    SAME(mcrx_context_remove_subscription(f.ctx, f.id), MCRX_STATUS_OK);
    FAIL_CTX(f.ctx, mcrx_context_remove_subscription(f.ctx, f.id),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND); /* second remove */
    mcrx_context_free(f.ctx); /* stops the receiver itself */

    /* A context made on this thread works; failures elsewhere stay elsewhere. */
    f.ctx = W(mcrx_context_new)();
    assert_non_null(f.ctx);
    ncalls++;
    mcrx_context_free(f.ctx);
}

/* ---- interface sets -------------------------------------------------------------------- */

static void interface_set_calls_refuse_null_and_bad_sets(void **state) {
    static const char *const with_slash[] = {"a/b"};
    static const char *const with_null[] = {NULL};
    static const char *const v4_for_v6[] = {"127.0.0.1"};
    static const char *const no_index[] = {"99999999999"};
    static const char *const absent_index[] = {"999999"};
    static const char *const lo[] = {"lo"};
    mcrx_subscription_config cfg;
    mcrx_interface_event ev;
    mcrx_interface_membership m[2];
    size_t n = 99;
    uint64_t id;
    int got = 7;
    fixture f;
    (void)state;
    fixture_open(&f);

    FAIL_THREAD(W(mcrx_context_next_interface_event)(NULL, &ev, &got), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(got, 0);
    FAIL_CTX(f.ctx, mcrx_context_next_interface_event(f.ctx, NULL, &got),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, mcrx_context_next_interface_event(f.ctx, &ev, NULL),
             MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_context_next_interface_event(f.ctx, &ev, &got), MCRX_STATUS_OK);
    assert_int_equal(got, 0);

    FAIL_THREAD(W(mcrx_subscription_interfaces)(NULL, m, 2, &n), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, mcrx_subscription_interfaces(f.sub, NULL, 2, &n), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, mcrx_subscription_interfaces(f.sub, m, 2, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_subscription_interfaces(f.sub, m, 2, &n), MCRX_STATUS_OK);
    assert_int_equal(n, 0); /* no set: no entries */

    /* Validation of the version 2 fields. */
    assert_int_equal(mcrx_subscription_config_parse(&cfg, GROUP, PORT, NULL, "127.0.0.1"), 0);
    cfg.interfaces = lo;
    cfg.ninterfaces = 1;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE);
    FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &cfg, &id), MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_subscription_config_parse(&cfg, GROUP, PORT, NULL, NULL), 0);
    cfg.interface_flags = 0x80;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_ARGUMENT);
    cfg.interface_flags = MCRX_IFSET_LOOPBACK;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE);
    cfg.interface_flags = 0;
    cfg.ninterfaces = 1;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_ARGUMENT);
    cfg.interfaces = with_slash;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE);
    cfg.interfaces = with_null;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE);
    cfg.interfaces = no_index;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE);
    cfg.ninterfaces = 65;
    cfg.interfaces = lo;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "ff0e::1", PORT, NULL, NULL), 0);
    cfg.interfaces = v4_for_v6;
    cfg.ninterfaces = 1;
    FAIL_PURE(mcrx_subscription_config_validate(&cfg),
              MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH);
    /* An index no interface has is looked up at add (a name is followed). */
    assert_int_equal(mcrx_subscription_config_parse(&cfg, GROUP, PORT, NULL, NULL), 0);
    cfg.interfaces = absent_index;
    cfg.ninterfaces = 1;
    FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &cfg, &id), MCRX_ERROR_INTERFACE_DISCOVERY_FAILED);
    /* The same set twice is a duplicate, however it is spelt. */
    cfg.interfaces = lo;
    assert_int_equal(mcrx_context_add(f.ctx, &cfg, &id), 0);
    {
        static const char *const lo_twice[] = {"1", "lo", "127.0.0.1"};
        cfg.interfaces = lo_twice;
        cfg.ninterfaces = 3;
        FAIL_CTX(f.ctx, mcrx_context_add(f.ctx, &cfg, &id), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    }
    mcrx_context_free(f.ctx);
}

/* ---- subscriptions ------------------------------------------------------------------------ */

static void subscription_calls_refuse_null_and_wrong_states(void **state) {
    fixture f;
    mcrx_subscription *taken;
    mcrx_datagram dg, dgs[2];
    unsigned char buf[64];
    size_t got, bytes;
    int ready;
    mcrx_ip ip;
    uint16_t port;
    (void)state;
    fixture_open(&f);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    mcrx_datagrams_init(dgs, 2, buf, 32, NULL);

    SAME(W(mcrx_subscription_id)(NULL), 0);
    SAME(W(mcrx_subscription_state)(NULL), 0);
    SAME(W(mcrx_subscription_get_config)(NULL), NULL);
    SAME(W(mcrx_subscription_sock)(NULL), MCRX_SOCK_INVALID);
    SAME(W(mcrx_subscription_fd)(NULL), MCRX_SOCK_INVALID);
    /* On the UDP path what to watch is the socket itself. */
    assert_true(mcrx_subscription_fd(f.sub) == mcrx_subscription_sock(f.sub));
    FAIL_PURE(mcrx_ip_parse(NULL, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(W(mcrx_subscription_last_error_code)(NULL), MCRX_ERROR_INVALID_ARGUMENT); /* thread's */
    check_message("mcrx_subscription_last_error(NULL)", W(mcrx_subscription_last_error)(NULL));
    SAME(W(mcrx_subscription_last_os_error)(NULL), 0);

    FAIL_THREAD(W(mcrx_subscription_rcvbuf)(NULL, &bytes), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_rcvbuf)(f.sub, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_subscription_local_addr)(NULL, &ip, &port), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_local_addr)(f.sub, NULL, &port),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_subscription_wait)(NULL, 0, &ready), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_wait)(f.sub, 0, NULL), MCRX_ERROR_INVALID_ARGUMENT);

    /* receive: NULLs, slots without buffers, and a subscription not joined */
    FAIL_THREAD(W(mcrx_subscription_recv)(NULL, &dg, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_recv)(f.sub, NULL, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_recv)(f.sub, &dg, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_subscription_recv_batch)(NULL, dgs, 2, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_recv_batch)(f.sub, NULL, 2, &got),
             MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_recv_batch)(f.sub, dgs, 2, NULL),
             MCRX_ERROR_INVALID_ARGUMENT);
    dgs[1].buf = NULL;
    FAIL_SUB(f.sub, mcrx_subscription_recv_batch(f.sub, dgs, 2, &got),
             MCRX_ERROR_INVALID_ARGUMENT);
    mcrx_datagrams_init(dgs, 2, buf, 32, NULL);
    FAIL_SUB(f.sub, mcrx_subscription_recv(f.sub, &dg, &got), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    FAIL_SUB(f.sub, mcrx_subscription_recv_batch(f.sub, dgs, 2, &got),
             MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);

    /* membership, on a subscription the context still holds */
    FAIL_THREAD(W(mcrx_subscription_join_group)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_subscription_leave_group)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_leave_group)(f.sub), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    SAME(mcrx_subscription_join_group(f.sub), MCRX_STATUS_OK);
    FAIL_SUB(f.sub, mcrx_subscription_join_group(f.sub), MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED);

    /* A borrowed subscription is the context's to free. */
    VOID_CALL(W(mcrx_subscription_free)(NULL));
    VOID_CALL(W(mcrx_subscription_free)(f.sub));
    SAME(W(mcrx_subscription_into_sock)(NULL), MCRX_SOCK_INVALID);
    SAME(W(mcrx_subscription_into_sock)(f.sub), MCRX_SOCK_INVALID);
    assert_int_equal(mcrx_context_contains_subscription(f.ctx, f.id), 1);

    /* ... and once taken, the same wrong states on its own */
    assert_int_equal(mcrx_context_take_subscription(f.ctx, f.id, &taken), 0);
    assert_int_equal(mcrx_subscription_state(taken), MCRX_STATE_JOINED);
    FAIL_SUB(taken, mcrx_subscription_join_group(taken), MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED);
    SAME(mcrx_subscription_leave_group(taken), MCRX_STATUS_OK);
    FAIL_SUB(taken, mcrx_subscription_leave_group(taken), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    FAIL_SUB(taken, mcrx_subscription_recv(taken, &dg, &got), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    SAME(mcrx_subscription_join_group(taken), MCRX_STATUS_OK);
    SAME(mcrx_subscription_recv(taken, &dg, &got), MCRX_STATUS_OK); /* nothing now */
    assert_int_equal(got, 0);

    /* Its socket replaced behind the library's back: the OS refuses, and
     * each call says so with the OS error. */
    replace_with_devnull(mcrx_subscription_sock(taken));
    FAIL_SUB(taken, mcrx_subscription_recv(taken, &dg, &got), MCRX_ERROR_RECEIVE_FAILED);
    assert_int_equal(mcrx_subscription_last_os_error(taken), ENOTSOCK);
    FAIL_SUB(taken, mcrx_subscription_recv_batch(taken, dgs, 2, &got), MCRX_ERROR_RECEIVE_FAILED);
    FAIL_SUB(taken, mcrx_subscription_local_addr(taken, &ip, &port),
             MCRX_ERROR_SOCKET_LOCAL_ADDR_FAILED);
    FAIL_SUB(taken, mcrx_subscription_rcvbuf(taken, &bytes), MCRX_ERROR_SOCKET_OPTION_FAILED);
    FAIL_SUB(taken, mcrx_subscription_leave_group(taken), MCRX_ERROR_MULTICAST_LEAVE_FAILED);
    assert_int_equal(mcrx_subscription_state(taken), MCRX_STATE_JOINED); /* unchanged */
    mcrx_subscription_free(taken);
    mcrx_context_free(f.ctx);
}

/* ---- metrics --------------------------------------------------------------------------------- */

static void metrics_refuse_null_and_snapshots_out_of_order(void **state) {
    fixture f;
    mcrx_subscription_metrics sm, sm2;
    mcrx_context_metrics cm, cm2;
    mcrx_metrics_delta d;
    mcrx_hardware_metrics hm, hm2;
    mcrx_hardware_delta hd;
    mcrx_context_sampler cs;
    mcrx_hardware_sampler hs;
    (void)state;
    fixture_open(&f);

    FAIL_THREAD(W(mcrx_subscription_metrics_get)(NULL, &sm), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SUB(f.sub, W(mcrx_subscription_metrics_get)(f.sub, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_context_metrics_get)(NULL, &cm), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_CTX(f.ctx, W(mcrx_context_metrics_get)(f.ctx, NULL), MCRX_ERROR_INVALID_ARGUMENT);

    assert_int_equal(mcrx_context_metrics_get(f.ctx, &cm), 0);
    assert_int_equal(mcrx_context_metrics_get(f.ctx, &cm2), 0);
    assert_int_equal(mcrx_subscription_metrics_get(f.sub, &sm), 0);
    assert_int_equal(mcrx_subscription_metrics_get(f.sub, &sm2), 0);
    FAIL_PURE(W(mcrx_context_metrics_delta)(NULL, &cm2, &d), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_context_metrics_delta)(&cm, NULL, &d), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_context_metrics_delta)(&cm, &cm2, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    cm.captured_at_ns = cm2.captured_at_ns + 1; /* earlier taken after later */
    FAIL_PURE(mcrx_context_metrics_delta(&cm, &cm2, &d), MCRX_ERROR_INVALID_ARGUMENT);
    cm.captured_at_ns = cm2.captured_at_ns;
    cm.batch_calls = cm2.batch_calls + 1; /* a counter went backwards */
    FAIL_PURE(mcrx_context_metrics_delta(&cm, &cm2, &d), MCRX_ERROR_INVALID_ARGUMENT);
    cm.batch_calls = cm2.batch_calls;
    cm.total_packets_received = cm2.total_packets_received + 1;
    FAIL_PURE(mcrx_context_metrics_delta(&cm, &cm2, &d), MCRX_ERROR_INVALID_ARGUMENT);

    FAIL_PURE(W(mcrx_subscription_metrics_delta)(NULL, &sm2, &d), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_subscription_metrics_delta)(&sm, NULL, &d), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_subscription_metrics_delta)(&sm, &sm2, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    sm.captured_at_ns = sm2.captured_at_ns + 1;
    FAIL_PURE(mcrx_subscription_metrics_delta(&sm, &sm2, &d), MCRX_ERROR_INVALID_ARGUMENT);
    sm.captured_at_ns = sm2.captured_at_ns;
    sm.leave_count = sm2.leave_count + 1;
    FAIL_PURE(mcrx_subscription_metrics_delta(&sm, &sm2, &d), MCRX_ERROR_INVALID_ARGUMENT);

    FAIL_PURE(W(mcrx_hardware_metrics_capture)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(W(mcrx_hardware_metrics_capture)(&hm), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_hardware_metrics_capture(&hm2), MCRX_ERROR_NONE);
    FAIL_PURE(W(mcrx_hardware_metrics_delta)(NULL, &hm2, &hd), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_hardware_metrics_delta)(&hm, NULL, &hd), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_hardware_metrics_delta)(&hm, &hm2, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    hm = hm2;
    hm.captured_at_ns = hm2.captured_at_ns + 1; /* earlier taken after later */
    FAIL_PURE(mcrx_hardware_metrics_delta(&hm, &hm2, &hd), MCRX_ERROR_INVALID_ARGUMENT);
    hm = hm2;
    hm.page_faults_minor_total = hm2.page_faults_minor_total + 1;
    FAIL_PURE(mcrx_hardware_metrics_delta(&hm, &hm2, &hd), MCRX_ERROR_INVALID_ARGUMENT);
    hm = hm2;
    hm.cpu_user_secs_total = hm2.cpu_user_secs_total + 1;
    FAIL_PURE(mcrx_hardware_metrics_delta(&hm, &hm2, &hd), MCRX_ERROR_INVALID_ARGUMENT);

    /* Samplers answer 0 and keep their state for NULL. */
    VOID_CALL(W(mcrx_context_sampler_init)(NULL));
    VOID_CALL(W(mcrx_hardware_sampler_init)(NULL));
    mcrx_context_sampler_init(&cs);
    mcrx_hardware_sampler_init(&hs);
    SAME(W(mcrx_context_sampler_sample)(NULL, &cm2, &d), 0);
    SAME(W(mcrx_context_sampler_sample)(&cs, NULL, &d), 0);
    SAME(W(mcrx_context_sampler_sample)(&cs, &cm2, NULL), 0);
    assert_int_equal(cs.has_previous, 0);
    SAME(W(mcrx_hardware_sampler_sample)(NULL, &hm2, &hd), 0);
    SAME(W(mcrx_hardware_sampler_sample)(&hs, NULL, &hd), 0);
    SAME(W(mcrx_hardware_sampler_sample)(&hs, &hm2, NULL), 0);
    assert_int_equal(hs.has_previous, 0);
    /* A snapshot that goes backwards gives no delta, and becomes the previous. */
    SAME(mcrx_context_sampler_sample(&cs, &cm2, &d), 0);
    cm = cm2;
    cm.captured_at_ns--;
    SAME(mcrx_context_sampler_sample(&cs, &cm, &d), 0);
    assert_int_equal(cs.previous.captured_at_ns, cm.captured_at_ns);
    mcrx_context_free(f.ctx);
}

/* ---- the JSONL writer ---------------------------------------------------------------------- */

static void jsonl_writer_refuses_bad_arguments_and_reports_io(void **state) {
    mcrx_jsonl_writer *w = (mcrx_jsonl_writer *)&w, *w2;
    mcrx_context_metrics cm;
    mcrx_metrics_delta d;
    mcrx_hardware_delta hd;
    char node[16], *longpath;
    struct rlimit old, lim;
    struct stat st;
    void (*old_xfsz)(int);
    (void)state;
    memset(&cm, 0, sizeof cm);
    memset(&d, 0, sizeof d);
    memset(&hd, 0, sizeof hd);

#define OPEN_FAILS(call, kind)                                                                 \
    do {                                                                                       \
        w = (mcrx_jsonl_writer *)&w;                                                           \
        FAIL_PURE(call, kind);                                                                 \
        assert_null(w); /* *out is NULL after a failure */                                     \
    } while (0)
    OPEN_FAILS(W(mcrx_jsonl_writer_open)(NULL, "a", "n", "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(W(mcrx_jsonl_writer_open)(tmp_path("w.jsonl"), NULL, "n", "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(W(mcrx_jsonl_writer_open)(tmp_path("w.jsonl"), "a", NULL, "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(W(mcrx_jsonl_writer_open)(tmp_path("w.jsonl"), "a", "n", NULL, NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_jsonl_writer_open)(tmp_path("w.jsonl"), "a", "n", "p", NULL, NULL),
              MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "", "n", "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "", "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a\xff", "n", "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", "[]", &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", "{", &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", "", &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    longpath = malloc(8192);
    assert_non_null(longpath);
    memset(longpath, 'x', 8191);
    longpath[0] = '/';
    longpath[8191] = '\0';
    OPEN_FAILS(mcrx_jsonl_writer_open(longpath, "a", "n", "p", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT);
    free(longpath);
    /* I/O: a directory where the file should be, a parent that cannot be made */
    OPEN_FAILS(mcrx_jsonl_writer_open(tmpdir, "a", "n", "p", NULL, &w), MCRX_ERROR_IO_FAILED);
    OPEN_FAILS(mcrx_jsonl_writer_open("/proc/self/mcrx-no-such-dir/w.jsonl", "a", "n", "p", NULL,
                                      &w),
               MCRX_ERROR_IO_FAILED);
    {
        FILE *fp = fopen(tmp_path("plain"), "w");
        assert_non_null(fp);
        fclose(fp);
    }
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("plain/w.jsonl"), "a", "n", "p", NULL, &w),
               MCRX_ERROR_IO_FAILED);

    /* a second writer on one file; a header that differs */
    assert_int_equal(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", NULL, &w2),
                     MCRX_ERROR_NONE);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "p", NULL, &w),
               MCRX_ERROR_BUSY);
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "q", NULL, &w),
               MCRX_ERROR_BUSY);

    FAIL_PURE(W(mcrx_jsonl_write_network)(NULL, &cm, &d), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_jsonl_write_network)(w2, NULL, &d), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_jsonl_write_network)(w2, &cm, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_jsonl_write_hardware)(NULL, &hd), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_jsonl_write_hardware)(w2, NULL), MCRX_ERROR_INVALID_ARGUMENT);

    /* The file may not grow (RLIMIT_FSIZE): writes fail, with the OS's reason. */
    assert_int_equal(stat(tmp_path("w.jsonl"), &st), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    old_xfsz = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    FAIL_PURE(mcrx_jsonl_write_network(w2, &cm, &d), MCRX_ERROR_IO_FAILED);
    FAIL_PURE(mcrx_jsonl_write_hardware(w2, &hd), MCRX_ERROR_IO_FAILED);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_xfsz);
    VOID_CALL(W(mcrx_jsonl_writer_close)(w2));
    OPEN_FAILS(mcrx_jsonl_writer_open(tmp_path("w.jsonl"), "a", "n", "q", NULL, &w),
               MCRX_ERROR_INVALID_ARGUMENT); /* the existing header differs */
    VOID_CALL(W(mcrx_jsonl_writer_close)(NULL));

    VOID_CALL(W(mcrx_jsonl_infer_node_id)(NULL, node, sizeof node));
    assert_string_equal(node, "unknown");
    VOID_CALL(W(mcrx_jsonl_infer_node_id)("/d/n1/x.jsonl", NULL, sizeof node));
    strcpy(node, "keep");
    VOID_CALL(W(mcrx_jsonl_infer_node_id)("/d/n1/x.jsonl", node, 0));
    assert_string_equal(node, "keep");
#undef OPEN_FAILS
}

/* ---- the libuv adapter ------------------------------------------------------------------- */

#ifdef MCRX_API_WALK_UV
static void on_uv_datagram(mcrx_uv_receiver *r, int status, const mcrx_datagram *dg, void *u) {
    (void)r;
    (void)status;
    (void)dg;
    (void)u;
}

/* libuv's convention: a negative error; the message is the receiver's, or
 * the thread's (mcrx_uv_last_error(NULL)) when there is no receiver. */
#define FAIL_UV(r, call, code)                                                                 \
    do {                                                                                       \
        int r_ = (call);                                                                       \
        if (r_ != (code))                                                                      \
            fail_msg("%s: returned %d (%s), expected %d", #call, r_, uv_err_name(r_), code);   \
        check_message(#call, mcrx_uv_last_error(r));                                           \
        ncalls++;                                                                              \
    } while (0)

static void uv_adapter_refuses_null_and_bad_flags(void **state) {
    uv_loop_t loop;
    mcrx_uv_receiver *r = (mcrx_uv_receiver *)&r;
    fixture f;
    mcrx_subscription *taken;
    mcrx_context *ctx;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    fixture_open(&f);

    FAIL_UV(NULL, W(mcrx_uv_receiver_init_subscription)(NULL, &r, f.sub), UV_EINVAL);
    assert_null(r); /* *out is NULL after a failure */
    FAIL_UV(NULL, W(mcrx_uv_receiver_init_subscription)(&loop, NULL, f.sub), UV_EINVAL);
    r = (mcrx_uv_receiver *)&r;
    FAIL_UV(NULL, W(mcrx_uv_receiver_init_subscription)(&loop, &r, NULL), UV_EINVAL);
    assert_null(r);
    FAIL_UV(NULL, W(mcrx_uv_receiver_init_context)(NULL, &r, f.ctx), UV_EINVAL);
    FAIL_UV(NULL, W(mcrx_uv_receiver_init_context)(&loop, NULL, f.ctx), UV_EINVAL);
    FAIL_UV(NULL, W(mcrx_uv_receiver_init_context)(&loop, &r, NULL), UV_EINVAL);
    assert_null(r);
    FAIL_UV(NULL, W(mcrx_uv_recv_start)(NULL, 0, on_uv_datagram, NULL), UV_EINVAL);
    FAIL_UV(NULL, W(mcrx_uv_recv_stop)(NULL), UV_EINVAL);
    VOID_CALL(W(mcrx_uv_close)(NULL, NULL, NULL));
    SAME(W(mcrx_uv_receiver_context)(NULL), NULL);
    SAME(W(mcrx_uv_receiver_subscription)(NULL), NULL);
    check_message("mcrx_uv_last_error(NULL)", W(mcrx_uv_last_error)(NULL));

    /* a subscription receiver: bad flags, no callback, use after close */
    assert_int_equal(mcrx_context_take_subscription(f.ctx, f.id, &taken), 0);
    assert_int_equal(mcrx_uv_receiver_init_subscription(&loop, &r, taken), 0);
    assert_string_equal(mcrx_uv_last_error(r), "");
    SAME(mcrx_uv_receiver_context(r), NULL);
    SAME(mcrx_uv_receiver_subscription(r), taken);
    FAIL_UV(r, mcrx_uv_recv_start(r, 0x80u, on_uv_datagram, NULL), UV_EINVAL);
    FAIL_UV(r, mcrx_uv_recv_start(r, MCRX_UV_METADATA, NULL, NULL), UV_EINVAL);
    SAME(mcrx_uv_recv_start(r, MCRX_UV_METADATA, on_uv_datagram, NULL), 0);
    SAME(mcrx_uv_recv_stop(r), 0);
    SAME(mcrx_uv_recv_stop(r), 0); /* stop twice: not an error */
    mcrx_uv_close(r, NULL, NULL);
    FAIL_UV(r, mcrx_uv_recv_start(r, 0, on_uv_datagram, NULL), UV_EINVAL); /* closing */
    VOID_CALL(mcrx_uv_close(r, NULL, NULL)); /* a second close does nothing */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* frees r and taken */

    /* a context receiver */
    ctx = f.ctx;
    assert_int_equal(mcrx_uv_receiver_init_context(&loop, &r, ctx), 0);
    SAME(mcrx_uv_receiver_context(r), ctx);
    SAME(mcrx_uv_receiver_subscription(r), NULL);
    FAIL_UV(r, mcrx_uv_recv_start(r, ~0u, on_uv_datagram, NULL), UV_EINVAL);
    mcrx_uv_close(r, NULL, NULL); /* frees the context */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}
#endif

/* ---- completeness -------------------------------------------------------------------------- */

static const char *libs[3];
static size_t nlibs;

static int listed(const char *const *list, size_t n, const char *name) {
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* Exported functions of lib (nm -D --defined-only: T, W or i), as one
 * NUL-separated block; returns how many. */
static size_t exported_functions(const char *lib, char *names, size_t room) {
    char cmd[1024], line[512], addr[64], type[8], sym[400];
    size_t n = 0, used = 0;
    FILE *p;
    if (access(lib, R_OK) != 0)
        fail_msg("cannot read %s: %s", lib, strerror(errno));
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s' 2>&1", lib);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p) != NULL) {
        char *at;
        if (sscanf(line, "%63s %7s %399s", addr, type, sym) != 3)
            continue;
        if (strcmp(type, "T") != 0 && strcmp(type, "W") != 0 && strcmp(type, "i") != 0)
            continue;
        if ((at = strchr(sym, '@')) != NULL)
            *at = '\0';
        assert_true(used + strlen(sym) + 1 < room);
        strcpy(names + used, sym);
        used += strlen(sym) + 1;
        n++;
    }
    if (pclose(p) != 0)
        fail_msg("nm -D --defined-only %s failed (binutils is needed for this check)", lib);
    return n;
}

static void every_exported_function_is_walked(void **state) {
    static char names[3][1 << 16];
    size_t counts[3] = {0, 0, 0}, i, l, missing = 0, total = 0;
    (void)state;
    if (nlibs == 0)
        fail_msg("no library given: usage test_api_errors LIBMCRX_CORE_SO LIBMCRX_CORE_JSONL_SO "
                 "[LIBMCRX_CORE_UV_SO]");
#ifdef MCRX_API_WALK_UV
    if (nlibs < 3)
        fail_msg("built with the libuv adapter: its shared library must be given too");
#endif
    for (l = 0; l < nlibs; l++) {
        const char *s = names[l];
        counts[l] = exported_functions(libs[l], names[l], sizeof names[l]);
        if (counts[l] == 0)
            fail_msg("%s exports no function", libs[l]);
        for (i = 0; i < counts[l]; i++, s += strlen(s) + 1) {
            total++;
            if (!listed(walked, nwalked, s)) {
                print_error("exported by %s but never walked: %s\n", libs[l], s);
                missing++;
            }
        }
    }
    /* The other way round: a walked function no library exports. */
    for (i = 0; i < nwalked; i++) {
        int found = 0;
        for (l = 0; l < nlibs && !found; l++) {
            const char *s = names[l];
            size_t k;
            for (k = 0; k < counts[l] && !found; k++, s += strlen(s) + 1)
                found = strcmp(s, walked[i]) == 0;
        }
        if (!found) {
            print_error("walked but not exported: %s\n", walked[i]);
            missing++;
        }
    }
    if (missing > 0)
        fail_msg("%zu function(s) outside the walk (see above)", missing);
    print_message("walked %zu exported functions of %zu libraries in %lu checked calls\n", total,
                  nlibs, ncalls);
}

/* ---- once holes, now fixed ------------------------------------------------------------ */

/* config.c, mcrx_subscription_config_validate (and so mcrx_context_add): an
 * interface_index above UINT32_MAX fails with the right kind, but the message
 * says "interface index must be greater than 0", which is not the cause. */
static void index_too_large_is_named_in_the_message(void **state) {
    mcrx_subscription_config c;
    (void)state;
    c = config("ff0e::1", PORT, NULL);
    c.interface_index = (int64_t)UINT32_MAX + 1;
    assert_int_equal(W(mcrx_subscription_config_validate)(&c), MCRX_ERROR_INVALID_INTERFACE_INDEX);
    check_message("validate", mcrx_last_error());
    if (strstr(mcrx_last_error(), "4294967296") == NULL)
        fail_msg("message \"%s\" does not name the index 4294967296 (above UINT32_MAX)",
                 mcrx_last_error());
}

/* ffi.c, mcrx_context_stop: a successful stop leaves the previous call's
 * kind and message on the context, though mcrx_core_ffi.h promises ""
 * after a success and mcrx.h NONE (so a caller cannot tell whether stop
 * failed). Every other context call clears them first. */
static void stop_clears_the_previous_failure_on_the_context(void **state) {
    fixture *f = *state;
    assert_int_equal(W(mcrx_context_start)(f->ctx, NULL, NULL, 0), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(W(mcrx_context_stop)(f->ctx), MCRX_STATUS_OK); /* without start */
    assert_int_equal(mcrx_context_last_error_code(f->ctx), MCRX_ERROR_NONE);
    assert_string_equal(mcrx_context_last_error(f->ctx), "");
    assert_int_equal(mcrx_context_start(f->ctx, on_packet, NULL, 0), MCRX_STATUS_OK);
    assert_int_equal(mcrx_context_start(f->ctx, on_packet, NULL, 0), MCRX_STATUS_ALREADY_RUNNING);
    assert_int_equal(mcrx_context_stop(f->ctx), MCRX_STATUS_OK); /* a real stop */
    assert_int_equal(mcrx_context_last_error_code(f->ctx), MCRX_ERROR_NONE);
    assert_string_equal(mcrx_context_last_error(f->ctx), "");
}

/* A failing assertion must not leak the fixture as well. */
static int fixture_setup(void **state) {
    static fixture f;
    fixture_open(&f);
    *state = &f;
    return 0;
}

static int fixture_teardown(void **state) {
    fixture *f = *state;
    mcrx_context_free(f->ctx);
    return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static int setup(void **state) {
    (void)state;
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

/* ---- raw capture --------------------------------------------------------------------------- */

static void reset_raw(mcrx_raw_context *r) {
    mcrx_raw_metrics m;
    assert_int_equal(mcrx_raw_context_metrics_get(r, &m), 0);
    assert_int_equal(mcrx_raw_context_last_error_code(r), MCRX_ERROR_NONE);
}

static void reset_shared(mcrx_raw_shared *sh) {
    mcrx_raw_shared_metrics m;
    assert_int_equal(mcrx_raw_shared_metrics_get(sh, &m), 0);
    assert_int_equal(mcrx_raw_shared_last_error_code(sh), MCRX_ERROR_NONE);
}

#define FAIL_RAW(r, call, kind)                                                                \
    do {                                                                                       \
        int r_, k_;                                                                            \
        reset_raw(r);                                                                          \
        r_ = (call);                                                                           \
        k_ = (int)mcrx_raw_context_last_error_code(r);                                         \
        if (r_ != status_of((kind) == ANY_KIND ? k_ : (kind)) || r_ == MCRX_STATUS_OK)         \
            fail_msg("%s: status %d for kind %s", #call, r_, mcrx_error_name(k_));             \
        check_failure(#call, k_, (kind), mcrx_raw_context_last_error(r));                      \
    } while (0)

#define FAIL_SH(sh, call, kind)                                                                \
    do {                                                                                       \
        int r_, k_;                                                                            \
        reset_shared(sh);                                                                      \
        r_ = (call);                                                                           \
        k_ = (int)mcrx_raw_shared_last_error_code(sh);                                         \
        if (r_ != status_of((kind) == ANY_KIND ? k_ : (kind)) || r_ == MCRX_STATUS_OK)         \
            fail_msg("%s: status %d for kind %s", #call, r_, mcrx_error_name(k_));             \
        check_failure(#call, k_, (kind), mcrx_raw_shared_last_error(sh));                      \
    } while (0)

/* Raw calls that need no capture socket (so no CAP_NET_RAW): NULLs, bad
 * configs and slots, unknown ids, limits. */
static void raw_calls_refuse_null_bad_configs_and_unknown_ids(void **state) {
    static unsigned char buf[128];
    mcrx_raw_context *r;
    mcrx_raw_shared *sh;
    mcrx_raw_shared_limits lim;
    mcrx_raw_config c;
    mcrx_raw_packet p;
    mcrx_raw_metrics rm;
    mcrx_raw_shared_metrics sm;
    uint64_t id, ids[2];
    size_t got;
    int ready;
    (void)state;
    VOID_CALL(W(mcrx_raw_config_init)(NULL));
    VOID_CALL(W(mcrx_raw_packet_init)(NULL, buf, sizeof buf));
    VOID_CALL(W(mcrx_raw_shared_limits_init)(NULL));
    FAIL_PURE(W(mcrx_raw_config_validate)(NULL), MCRX_ERROR_INVALID_ARGUMENT);
    memset(&c, 0, sizeof c);
    FAIL_PURE(W(mcrx_raw_config_validate)(&c), MCRX_ERROR_INVALID_ARGUMENT);
    mcrx_raw_config_init(&c);
    FAIL_PURE(mcrx_raw_config_validate(&c), MCRX_ERROR_INVALID_MULTICAST_GROUP);
    FAIL_PURE(W(mcrx_raw_config_parse)(NULL, GROUP, NULL, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_raw_config_parse)(&c, NULL, NULL, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_PURE(W(mcrx_raw_config_parse)(&c, "no group", NULL, NULL), MCRX_ERROR_INVALID_ADDRESS);
    assert_int_equal(mcrx_raw_config_parse(&c, "232.1.2.3", NULL, NULL), MCRX_ERROR_NONE);
    FAIL_PURE(mcrx_raw_config_validate(&c), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);

    /* NULL handles */
    VOID_CALL(W(mcrx_raw_context_free)(NULL));
    VOID_CALL(W(mcrx_raw_shared_free)(NULL));
    FAIL_THREAD(W(mcrx_raw_context_add)(NULL, &c, &id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_join_subscription)(NULL, 1), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_leave_subscription)(NULL, 1), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_remove_subscription)(NULL, 1), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_recv)(NULL, &p, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_recv_batch)(NULL, &p, 1, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_recv_subscription)(NULL, 1, &p, 1, &got),
                MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_wait)(NULL, 0, &ready), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_context_metrics_get)(NULL, &rm), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(W(mcrx_raw_context_fd)(NULL), MCRX_SOCK_INVALID);
    SAME(W(mcrx_raw_context_subscription_count)(NULL), 0);
    SAME(W(mcrx_raw_context_contains_subscription)(NULL, 1), 0);
    SAME(W(mcrx_raw_context_subscription_state)(NULL, 1), 0);
    SAME(W(mcrx_raw_context_last_error_code)(NULL), mcrx_last_error_code());
    SAME(W(mcrx_raw_context_last_os_error)(NULL), 0);
    SAME(W(mcrx_raw_context_last_error)(NULL) != NULL, 1);
    FAIL_THREAD(W(mcrx_raw_shared_add)(NULL, &c, &id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_join_subscription)(NULL, 1), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_leave_subscription)(NULL, 1), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_remove_subscription)(NULL, 1), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_recv)(NULL, &p, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_recv_batch)(NULL, &p, 1, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_wait)(NULL, 0, &ready), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_THREAD(W(mcrx_raw_shared_metrics_get)(NULL, &sm), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(W(mcrx_raw_shared_fd)(NULL), MCRX_SOCK_INVALID);
    SAME(W(mcrx_raw_shared_subscription_count)(NULL), 0);
    SAME(W(mcrx_raw_shared_contains_subscription)(NULL, 1), 0);
    SAME(W(mcrx_raw_shared_subscription_state)(NULL, 1), 0);
    SAME(W(mcrx_raw_shared_last_error_code)(NULL), mcrx_last_error_code());
    SAME(W(mcrx_raw_shared_last_os_error)(NULL), 0);
    SAME(W(mcrx_raw_shared_last_error)(NULL) != NULL, 1);

    /* A raw context: bad configs, slots and ids */
    r = W(mcrx_raw_context_new)();
    assert_non_null(r);
    FAIL_RAW(r, mcrx_raw_context_add(r, NULL, &id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_RAW(r, mcrx_raw_context_add(r, &c, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_RAW(r, mcrx_raw_context_add(r, &c, &id), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    FAIL_RAW(r, mcrx_raw_context_join_subscription(r, 7), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_RAW(r, mcrx_raw_context_leave_subscription(r, 7), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_RAW(r, mcrx_raw_context_remove_subscription(r, 7), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    mcrx_raw_packet_init(&p, buf, 16);
    FAIL_RAW(r, mcrx_raw_context_recv(r, &p, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_RAW(r, mcrx_raw_context_recv_batch(r, NULL, 1, &got), MCRX_ERROR_INVALID_ARGUMENT);
    mcrx_raw_packet_init(&p, buf, sizeof buf);
    FAIL_RAW(r, mcrx_raw_context_recv_batch(r, &p, 1, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_RAW(r, mcrx_raw_context_recv_subscription(r, 7, &p, 1, &got),
             MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_RAW(r, mcrx_raw_context_wait(r, 0, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_RAW(r, mcrx_raw_context_metrics_get(r, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    SAME(mcrx_raw_context_recv(r, &p, &got), 0); /* nothing joined: nothing, no error */
    SAME(got, 0);
    SAME(mcrx_raw_context_fd(r) >= 0, 1);
    mcrx_raw_context_free(r);

    /* A shared capture: limits, bad configs and ids (add opens no socket) */
    mcrx_raw_shared_limits_init(&lim);
    lim.max_pending_packets = 0;
    SAME(W(mcrx_raw_shared_new)(&lim), NULL);
    check_failure("mcrx_raw_shared_new(zero limit)", mcrx_last_error_code(),
                  MCRX_ERROR_INVALID_SHARED_RAW_CAPTURE_LIMITS, mcrx_last_error());
    mcrx_raw_shared_limits_init(&lim);
    lim.max_subscriptions = 1;
    sh = mcrx_raw_shared_new(&lim);
    assert_non_null(sh);
    FAIL_SH(sh, mcrx_raw_shared_add(sh, NULL, &id), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SH(sh, mcrx_raw_shared_add(sh, &c, &id), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    assert_int_equal(mcrx_raw_config_parse(&c, GROUP, NULL, "127.0.0.1"), MCRX_ERROR_NONE);
    assert_int_equal(mcrx_raw_shared_add(sh, &c, &id), 0);
    FAIL_SH(sh, mcrx_raw_shared_add(sh, &c, &id),
            MCRX_ERROR_SHARED_RAW_CAPTURE_SUBSCRIPTION_LIMIT_EXCEEDED);
    FAIL_SH(sh, mcrx_raw_shared_leave_subscription(sh, id), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    FAIL_SH(sh, mcrx_raw_shared_join_subscription(sh, 99), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_SH(sh, mcrx_raw_shared_leave_subscription(sh, 99), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    FAIL_SH(sh, mcrx_raw_shared_remove_subscription(sh, 99), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    mcrx_raw_packet_init(&p, buf, 16);
    FAIL_SH(sh, mcrx_raw_shared_recv(sh, &p, &got), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SH(sh, mcrx_raw_shared_recv_batch(sh, &p, 1, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SH(sh, mcrx_raw_shared_wait(sh, 0, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    FAIL_SH(sh, mcrx_raw_shared_metrics_get(sh, NULL), MCRX_ERROR_INVALID_ARGUMENT);
    mcrx_raw_packet_init(&p, buf, sizeof buf);
    p.ids = ids;
    p.ids_cap = 2;
    SAME(mcrx_raw_shared_recv(sh, &p, &got), 0);
    SAME(got, 0);
    SAME(mcrx_raw_shared_fd(sh) >= 0, 1);
    SAME(mcrx_raw_shared_subscription_count(sh), 1);
    SAME(mcrx_raw_shared_contains_subscription(sh, id), 1);
    SAME(mcrx_raw_shared_subscription_state(sh, id), MCRX_STATE_BOUND);
    SAME(mcrx_raw_shared_remove_subscription(sh, id), 0);
    mcrx_raw_shared_free(sh);
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    const struct CMUnitTest walk[] = {
        cmocka_unit_test(error_texts_exist_for_every_kind),
        cmocka_unit_test(address_functions_refuse_null_and_bad_text),
        cmocka_unit_test(config_functions_report_each_validation_kind),
        cmocka_unit_test(source_lists_report_each_validation_kind),
        cmocka_unit_test(set_sources_refuses_bad_lists_and_duplicates),
        cmocka_unit_test(datagram_setup_with_null_makes_no_usable_slot),
        cmocka_unit_test(context_calls_refuse_null_and_unknown_ids),
        cmocka_unit_test(sockets_handed_over_are_checked_before_use),
        cmocka_unit_test(c_abi_answers_its_status_codes),
        cmocka_unit_test(subscription_calls_refuse_null_and_wrong_states),
        cmocka_unit_test(interface_set_calls_refuse_null_and_bad_sets),
        cmocka_unit_test(metrics_refuse_null_and_snapshots_out_of_order),
        cmocka_unit_test(jsonl_writer_refuses_bad_arguments_and_reports_io),
#ifdef MCRX_API_WALK_UV
        cmocka_unit_test(uv_adapter_refuses_null_and_bad_flags),
#endif
        cmocka_unit_test(index_too_large_is_named_in_the_message),
        cmocka_unit_test(raw_calls_refuse_null_bad_configs_and_unknown_ids),
        cmocka_unit_test_setup_teardown(stop_clears_the_previous_failure_on_the_context,
                                   fixture_setup, fixture_teardown),
        /* last: it checks what the tests above walked */
        cmocka_unit_test(every_exported_function_is_walked),
    };
    int i;
    for (i = 1; i < argc; i++)
        if (nlibs < sizeof libs / sizeof libs[0])
            libs[nlibs++] = argv[i];
    return cmocka_run_group_tests_name("api_errors", walk, setup, teardown);
}
