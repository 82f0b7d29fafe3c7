/*
 * wt: the assertion harness of the Windows tests (tests/windows/), which run
 * under wine64 inside the namespaces of scripts/netns-run.sh.
 *
 * Why not cmocka, as every other C test here: Debian packages cmocka for
 * Linux only (libcmocka-dev has no mingw-w64 build, and there is no
 * libcmocka for x86_64-w64-mingw32 in the archive), and vendoring it for one
 * cross build is more code than this file. It does what those tests need of
 * cmocka: named tests, checks that print file:line with both values, a
 * failed check ending its test and not the run, and a non-zero exit status
 * when any test failed.
 *
 * The Linux sender: a test asks for datagrams with wt_send; the request goes
 * out as one "@@tsend ..." line on stdout and the driver
 * (tests/windows-test.sh) runs tests/tsend on the sender host, then answers
 * "ok" on stdin once the datagrams are on the wire.
 */
#ifndef MCRX_WT_H
#define MCRX_WT_H

#include <stddef.h>
#include <stdint.h>

/* Deadline of every wait (ms). */
#define WT_WAIT_MS 2000

/* Addresses of the network scripts/netns-run.sh builds. */
#define S_V4 "198.51.100.1"
#define S_V4_OTHER "198.51.100.3"
#define R_V4 "198.51.100.2"
#define S_V4_L2 "203.0.113.1"
#define R_V4_L2 "203.0.113.2"
#define S_V6 "2001:db8:1::1"
#define S_V6_OTHER "2001:db8:1::3"
#define R_V6 "2001:db8:1::2"
#define S_V6_L2 "2001:db8:2::1"

typedef struct wt_test {
    const char *name;
    void (*fn)(void);
} wt_test;

/* Runs every test (or those named on the command line) in order; prints
 * "ok NAME" or "FAIL NAME" for each and a summary. Returns the exit status:
 * 0 when all passed. first_port is where wt_port() starts. */
int wt_main(int argc, char **argv, const wt_test *tests, size_t n, uint16_t first_port);

/* Ends the running test as failed (after the message). */
void wt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(gnu_printf, 3, 4), noreturn));

#define WT_CHECK(cond)                                                                   \
    do {                                                                                 \
        if (!(cond))                                                                     \
            wt_fail(__FILE__, __LINE__, "check failed: %s", #cond);                      \
    } while (0)

#define WT_EQ_INT(a, b)                                                                  \
    do {                                                                                 \
        long long wt_a_ = (long long)(a), wt_b_ = (long long)(b);                        \
        if (wt_a_ != wt_b_)                                                              \
            wt_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, wt_a_, wt_b_); \
    } while (0)

#define WT_NE_INT(a, b)                                                                  \
    do {                                                                                 \
        long long wt_a_ = (long long)(a), wt_b_ = (long long)(b);                        \
        if (wt_a_ == wt_b_)                                                              \
            wt_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, wt_a_);           \
    } while (0)

#define WT_LE_INT(a, b)                                                                  \
    do {                                                                                 \
        long long wt_a_ = (long long)(a), wt_b_ = (long long)(b);                        \
        if (wt_a_ > wt_b_)                                                               \
            wt_fail(__FILE__, __LINE__, "%s <= %s: %lld > %lld", #a, #b, wt_a_, wt_b_);  \
    } while (0)

/* An mcrx call that must succeed; on failure prints the context's message. */
#define WT_OK(ctx, call)                                                                 \
    do {                                                                                 \
        int wt_rc_ = (call);                                                             \
        if (wt_rc_ != 0)                                                                 \
            wt_fail(__FILE__, __LINE__, "%s: status %d, kind %s: %s", #call, wt_rc_,     \
                    mcrx_error_name(mcrx_context_last_error_code(ctx)),                  \
                    mcrx_context_last_error(ctx));                                       \
    } while (0)

/* The same for a call on a subscription. */
#define WT_SUB_OK(sub, call)                                                             \
    do {                                                                                 \
        int wt_rc_ = (call);                                                             \
        if (wt_rc_ != 0)                                                                 \
            wt_fail(__FILE__, __LINE__, "%s: status %d, kind %s: %s", #call, wt_rc_,     \
                    mcrx_error_name(mcrx_subscription_last_error_code(sub)),             \
                    mcrx_subscription_last_error(sub));                                  \
    } while (0)

#define WT_EQ_STR(a, b) wt_eq_str_(__FILE__, __LINE__, #a, (a), #b, (b))
#define WT_CONTAINS(hay, needle) wt_contains_(__FILE__, __LINE__, #hay, (hay), (needle))
#define WT_STARTS(s, prefix) wt_starts_(__FILE__, __LINE__, #s, (s), (prefix))
/* A context call failed with this kind, a "MCRX: " message and the status
 * the C ABI promises (MCRX_STATUS_ERROR unless told). */
#define WT_FAILS(ctx, status, kind, call)                                                \
    wt_fails_(__FILE__, __LINE__, #call, (ctx), (call), (status), (kind))

void wt_eq_str_(const char *file, int line, const char *an, const char *a, const char *bn,
                const char *b);
void wt_contains_(const char *file, int line, const char *hn, const char *hay,
                  const char *needle);
void wt_starts_(const char *file, int line, const char *sn, const char *s, const char *prefix);
struct McrxContext;
void wt_fails_(const char *file, int line, const char *call, struct McrxContext *ctx, int got,
               int status, int kind);

/* Has the Linux sender send count datagrams with payload msg from src (an
 * address of the sender host, link 1 unless it is a link-2 address) to
 * dst:port; returns once they are sent. */
void wt_send(const char *src, const char *dst, uint16_t port, const char *msg, int count);

/* A port no earlier test of this run used. */
uint16_t wt_port(void);
/* The receiver's interface indexes (Windows' equal Linux's under wine):
 * vb (link 1) and vb2 (link 2), from the driver. */
uint32_t wt_ifindex(void);
uint32_t wt_ifindex2(void);
/* Milliseconds of a monotonic clock. */
long long wt_now_ms(void);
/* Lets datagrams in flight land before a test asserts their absence. */
void wt_settle(void);

#endif
