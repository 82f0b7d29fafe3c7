/* The Windows tests' harness (wt.h says why it is not cmocka). */
#include "wt.h"

#include <winsock2.h>
#include <windows.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcrx/mcrx.h>

static jmp_buf failed_at;
static const char *current;
static uint16_t next_port;

void wt_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stdout, "%s:%d: %s: ", file, line, current ? current : "?");
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    longjmp(failed_at, 1);
}

void wt_eq_str_(const char *file, int line, const char *an, const char *a, const char *bn,
                const char *b) {
    if (a == NULL || b == NULL || strcmp(a, b) != 0)
        wt_fail(file, line, "%s == %s: \"%s\" != \"%s\"", an, bn, a ? a : "(null)",
                b ? b : "(null)");
}

void wt_contains_(const char *file, int line, const char *hn, const char *hay,
                  const char *needle) {
    if (hay == NULL || strstr(hay, needle) == NULL)
        wt_fail(file, line, "%s contains \"%s\": it is \"%s\"", hn, needle,
                hay ? hay : "(null)");
}

void wt_starts_(const char *file, int line, const char *sn, const char *s, const char *prefix) {
    if (s == NULL || strncmp(s, prefix, strlen(prefix)) != 0)
        wt_fail(file, line, "%s starts with \"%s\": it is \"%s\"", sn, prefix, s ? s : "(null)");
}

void wt_fails_(const char *file, int line, const char *call, struct McrxContext *ctx, int got,
               int status, int kind) {
    const char *msg = mcrx_context_last_error(ctx);
    if (got != status || (int)mcrx_context_last_error_code(ctx) != kind)
        wt_fail(file, line, "%s: status %d kind %s (\"%s\"), expected status %d kind %s", call,
                got, mcrx_error_name(mcrx_context_last_error_code(ctx)), msg, status,
                mcrx_error_name(kind));
    if (strncmp(msg, "MCRX: ", 6) != 0)
        wt_fail(file, line, "%s: message \"%s\" does not start with \"MCRX: \"", call, msg);
}

void wt_send(const char *src, const char *dst, uint16_t port, const char *msg, int count) {
    char line[64];
    const char *ifname = strncmp(src, "203.0.113.", 10) == 0 || strncmp(src, "2001:db8:2:", 11) == 0
                             ? "va2"
                             : "va";
    fprintf(stdout, "@@tsend %s %s %s %u %s %d\n", src, ifname, dst, port, msg, count);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL || strncmp(line, "ok", 2) != 0)
        wt_fail(__FILE__, __LINE__, "the driver did not send (%s): run me through "
                "tests/windows-test.sh", line[0] ? line : "no answer");
}

uint16_t wt_port(void) {
    return next_port++;
}

static uint32_t env_index(const char *name) {
    const char *v = getenv(name);
    if (v == NULL || atoi(v) <= 0)
        wt_fail(__FILE__, __LINE__, "%s is not set: run me through tests/windows-test.sh", name);
    return (uint32_t)atoi(v);
}

uint32_t wt_ifindex(void) {
    return env_index("WT_IFINDEX");
}

uint32_t wt_ifindex2(void) {
    return env_index("WT_IFINDEX2");
}

long long wt_now_ms(void) {
    return (long long)GetTickCount64();
}

void wt_settle(void) {
    Sleep(100);
}

int wt_main(int argc, char **argv, const wt_test *tests, size_t n, uint16_t first_port) {
    volatile size_t ran = 0, failures = 0;
    size_t i;
    int a;
    setvbuf(stdout, NULL, _IONBF, 0);
    next_port = first_port;
    for (i = 0; i < n; i++) {
        volatile long long t0;
        int wanted = argc < 2;
        for (a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], tests[i].name) == 0;
        if (!wanted)
            continue;
        current = tests[i].name;
        ran++;
        t0 = wt_now_ms();
        if (setjmp(failed_at) == 0) {
            tests[i].fn();
            printf("ok %s (%lld ms)\n", tests[i].name, wt_now_ms() - t0);
        } else {
            printf("FAIL %s\n", tests[i].name);
            failures++;
        }
    }
    current = NULL;
    printf("%s: %zu tests, %zu failed\n", argv[0], (size_t)ran, (size_t)failures);
    if (ran == 0) {
        printf("no test matched\n");
        return 1;
    }
    return failures != 0;
}
