/*
 * The io_uring receive backend on its own (the shared suites run on it too,
 * with MCRX_BACKEND=io_uring): a ring of 4 buffers under a flood of 10 000
 * datagrams (the multishot request ends with ENOBUFS over and over and is
 * re-armed), truncation at the buffer's room, the options' checks, and the
 * fallback to the UDP backend when a seccomp filter refuses io_uring_setup.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "test_uring: add this architecture's AUDIT_ARCH_ value"
#endif

#define FLOOD 10000
#define BATCH 64

static mcrx_context *uring_ctx(uint32_t nbufs, uint32_t room) {
    mcrx_context_options o;
    mcrx_context *ctx;
    mcrx_context_options_init(&o);
    o.backend = MCRX_BACKEND_IO_URING;
    o.no_fallback = 1;
    o.ring_buffers = nbufs;
    o.ring_buffer_bytes = room;
    ctx = mcrx_context_new_with_options(&o);
    if (ctx == NULL)
        fprintf(stderr, "io_uring context: %s\n", mcrx_last_error());
    assert_non_null(ctx);
    assert_string_equal(mcrx_context_backend(ctx), "io_uring");
    return ctx;
}

static uint64_t add_join(mcrx_context *ctx, const char *group, uint16_t port, uint32_t rx) {
    mcrx_subscription_config cfg;
    uint64_t id = 0;
    assert_int_equal(mcrx_subscription_config_parse(&cfg, group, port, NULL, NULL),
                     MCRX_ERROR_NONE);
    cfg.rx_options |= rx;
    cfg.rcvbuf_bytes = 64u << 20; /* the flood fits: loss would be the kernel's, and counted */
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), 0);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    return id;
}

/* 10 000 numbered datagrams through a ring of 4 buffers: every one arrives,
 * in order, but for what the socket queue itself dropped (SO_RXQ_OVFL). */
static void tiny_ring_under_a_flood_loses_nothing(void **state) {
    static unsigned char arena[BATCH * 256];
    mcrx_datagram dgs[BATCH];
    mcrx_metadata metas[BATCH];
    mcrx_context *ctx = uring_ctx(4, 256);
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    uint32_t next = 0, i, received = 0;
    uint64_t drops = 0;
    long long deadline;
    (void)state;
    add_join(ctx, "239.8.0.1", port, MCRX_RX_DROPS);
    mcrx_datagrams_init(dgs, BATCH, arena, 256, metas);
    /* Half sent ahead (queued while nobody receives), half while receiving. */
    for (i = 0; i < FLOOD / 2; i++) {
        uint32_t seq = i;
        th_send(s, "239.8.0.1", port, &seq, sizeof seq);
    }
    deadline = th_now_ms() + 10000;
    while (received + drops < FLOOD && th_now_ms() < deadline) {
        size_t got = 0, k;
        int ready = 0;
        for (k = 0; k < 500 && i < FLOOD; k++, i++) {
            uint32_t seq = i;
            th_send(s, "239.8.0.1", port, &seq, sizeof seq);
        }
        assert_int_equal(mcrx_context_recv_batch(ctx, dgs, BATCH, &got), 0);
        for (k = 0; k < got; k++) {
            uint32_t seq;
            assert_int_equal(dgs[k].len, sizeof seq);
            assert_int_equal(dgs[k].flags & MCRX_DATAGRAM_TRUNCATED, 0);
            memcpy(&seq, dgs[k].buf, sizeof seq);
            /* In order: a gap only where the kernel counted a drop. */
            assert_true(seq >= next);
            next = seq + 1;
            received++;
            if (metas[k].valid & MCRX_META_DROPS)
                drops = metas[k].kernel_drops;
        }
        if (got == 0 && i >= FLOOD)
            assert_int_equal(mcrx_context_wait(ctx, 200, &ready), 0);
    }
    fprintf(stderr, "flood: %u received, %llu dropped by the socket queue\n", received,
            (unsigned long long)drops);
    assert_int_equal(received + drops, FLOOD);
    assert_true(received >= FLOOD / 2); /* the queue was sized for all of it */
    close(s);
    mcrx_context_free(ctx);
}

/* A datagram larger than a buffer's room is delivered cut to the room and
 * flagged, with its full size, like one larger than the caller's slot. */
static void a_datagram_larger_than_the_room_is_flagged(void **state) {
    unsigned char big[300], buf[2048];
    mcrx_datagram dg;
    mcrx_context *ctx = uring_ctx(8, 100);
    uint16_t port = th_port();
    int s = th_sender(S_V4, "va");
    (void)state;
    memset(big, 'x', sizeof big);
    add_join(ctx, "239.8.0.2", port, 0);
    th_send(s, "239.8.0.2", port, big, sizeof big);
    th_send(s, "239.8.0.2", port, big, 100);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(th_ctx_recv_wait(ctx, &dg, TH_WAIT_MS), 1);
    assert_int_equal(dg.len, 100);
    assert_int_equal(dg.wire_len, 300);
    assert_true(dg.flags & MCRX_DATAGRAM_TRUNCATED);
    assert_int_equal(th_ctx_recv_wait(ctx, &dg, TH_WAIT_MS), 1);
    assert_int_equal(dg.len, 100);
    assert_int_equal(dg.wire_len, 100);
    assert_int_equal(dg.flags & MCRX_DATAGRAM_TRUNCATED, 0);
    close(s);
    mcrx_context_free(ctx);
}

/* The ring takes datagrams out of the socket as they arrive: the socket is
 * not what to watch, and it cannot be handed back without losing them. */
static void the_ring_is_watched_and_its_socket_is_not_handed_back(void **state) {
    mcrx_context *ctx = uring_ctx(8, 2048);
    mcrx_subscription *sub = NULL;
    uint16_t port = th_port();
    uint64_t id = add_join(ctx, "239.8.0.3", port, 0);
    (void)state;
    sub = mcrx_context_get_subscription(ctx, id);
    assert_non_null(sub);
    assert_true(mcrx_subscription_fd(sub) != MCRX_SOCK_INVALID);
    assert_true(mcrx_subscription_fd(sub) != mcrx_subscription_sock(sub));
    assert_int_equal(mcrx_context_take_subscription(ctx, id, &sub), 0);
    assert_int_equal(mcrx_subscription_into_sock(sub), MCRX_SOCK_INVALID);
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_NOT_SUPPORTED);
    assert_non_null(strstr(mcrx_last_error(), "cannot be handed back"));
    mcrx_subscription_free(sub);
    mcrx_context_free(ctx);
}

static void options_are_checked(void **state) {
    mcrx_context_options o;
    (void)state;
    assert_null(mcrx_context_new_with_options(NULL));
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_ARGUMENT);
    memset(&o, 0, sizeof o); /* not initialised: version 0 */
    assert_null(mcrx_context_new_with_options(&o));
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_ARGUMENT);
    mcrx_context_options_init(&o);
    o.backend = 7;
    assert_null(mcrx_context_new_with_options(&o));
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_ARGUMENT);
    mcrx_context_options_init(&o);
    o.backend = MCRX_BACKEND_IO_URING;
    o.ring_buffers = 3; /* not a power of two */
    assert_null(mcrx_context_new_with_options(&o));
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(mcrx_last_error(), "ring_buffers 3"));
    o.ring_buffers = 64;
    o.ring_buffer_bytes = 0;
    assert_null(mcrx_context_new_with_options(&o));
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_ARGUMENT);
}

/* Refuses io_uring_setup with EPERM, as Docker's default profile and
 * kernel.io_uring_disabled do (that sysctl is host-wide: not touched). */
static void refuse_io_uring(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp");
        _exit(10);
    }
}

/* In a child under that filter: io_uring falls back to the UDP backend,
 * says so, and the context receives; no_fallback fails naming the cause. */
static int fallback_child(uint16_t port) {
    mcrx_context_options o;
    mcrx_context *ctx;
    unsigned char buf[64];
    mcrx_datagram dg;
    int s = th_sender(S_V4, "va");
    refuse_io_uring();
    mcrx_context_options_init(&o);
    o.backend = MCRX_BACKEND_IO_URING;
    o.no_fallback = 1;
    if (mcrx_context_new_with_options(&o) != NULL)
        return 11;
    if (mcrx_last_error_code() != MCRX_ERROR_NOT_SUPPORTED ||
        strstr(mcrx_last_error(), "io_uring_setup") == NULL ||
        strstr(mcrx_last_error(), "kernel.io_uring_disabled") == NULL) {
        fprintf(stderr, "child: %s\n", mcrx_last_error());
        return 12;
    }
    o.no_fallback = 0;
    ctx = mcrx_context_new_with_options(&o);
    if (ctx == NULL || strcmp(mcrx_context_backend(ctx), "udp") != 0)
        return 13;
    th_add_join(ctx, "239.8.0.3", port, NULL, NULL);
    th_send_str(s, "239.8.0.3", port, "fallback");
    mcrx_datagram_init(&dg, buf, sizeof buf);
    if (th_ctx_recv_wait(ctx, &dg, TH_WAIT_MS) != 1 || dg.len != 8 ||
        memcmp(buf, "fallback", 8) != 0)
        return 14;
    mcrx_context_free(ctx);
    /* The environment switch falls back the same way. */
    setenv("MCRX_BACKEND", "io_uring", 1);
    ctx = mcrx_context_new();
    if (ctx == NULL || strcmp(mcrx_context_backend(ctx), "udp") != 0)
        return 15;
    mcrx_context_free(ctx);
    close(s);
    return 0;
}

static void seccomp_refusal_falls_back_to_udp(void **state) {
    uint16_t port = th_port();
    int status = 0;
    pid_t pid;
    mcrx_context *ctx;
    (void)state;
    /* Outside the filter the same request gets io_uring. */
    ctx = uring_ctx(64, 2048);
    mcrx_context_free(ctx);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fallback_child(port));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_ring_under_a_flood_loses_nothing),
        cmocka_unit_test(a_datagram_larger_than_the_room_is_flagged),
        cmocka_unit_test(the_ring_is_watched_and_its_socket_is_not_handed_back),
        cmocka_unit_test(options_are_checked),
        cmocka_unit_test(seccomp_refusal_falls_back_to_udp),
    };
    th_init();
    return cmocka_run_group_tests_name("uring", tests, NULL, NULL);
}
