/* Link changes for the interface-set tests: see links.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "links.h"

static char sender_ns[64];

void tl_init(void) {
    const char *s = getenv("MCRX_TEST_SENDER_NS");
    assert_non_null(s);
    snprintf(sender_ns, sizeof sender_ns, "%s", strrchr(s, '/') + 1);
}

const char *tl_sender_ns(void) {
    return sender_ns;
}

void tl_sh(const char *fmt, ...) {
    char cmd[768];
    va_list ap;
    int rc;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "links: '%s' exited %d\n", cmd, rc);
    assert_int_equal(rc, 0);
}

void tl_wait_linklocal(const char *rx, const char *tx) {
    tl_sh("for i in $(seq 1 100); do ip -6 addr show dev %s scope link | grep -q fe80 && "
       "ip -n %s -6 addr show dev %s scope link | grep -q fe80 && exit 0; sleep 0.02; done; exit 1",
       rx, sender_ns, tx);
}

void tl_make_vb2(void) {
    tl_sh("ip link add name vb2 type veth peer name va2 netns %s", sender_ns);
    tl_sh("ip addr add 203.0.113.2/24 dev vb2 && ip addr add 2001:db8:2::2/64 dev vb2 nodad && "
       "ip link set dev vb2 up");
    tl_sh("ip -n %s addr add 203.0.113.1/24 dev va2 && ip -n %s addr add 2001:db8:2::1/64 dev va2 "
       "nodad && ip -n %s link set dev va2 up",
       sender_ns, sender_ns, sender_ns);
    tl_wait_linklocal("vb2", "va2");
}

mcrx_interface_event tl_wait_event(mcrx_context *ctx, uint32_t kind, const char *ifname) {
    mcrx_interface_event ev;
    long long end = th_now_ms() + TH_WAIT_MS;
    char buf[64];
    mcrx_datagram dg;
    while (th_now_ms() < end) {
        int got = 0, ready = 0;
        size_t n = 0;
        assert_int_equal(mcrx_context_next_interface_event(ctx, &ev, &got), 0);
        if (got && ev.kind == kind && strcmp(ev.interface_name, ifname) == 0)
            return ev;
        if (got && ev.kind == MCRX_IFEVENT_FAILED)
            fail_msg("rejoin of %s failed: %s (errno %d)", ev.interface_name,
                     mcrx_error_name(ev.error), ev.os_error);
        if (got)
            continue;
        mcrx_datagram_init(&dg, buf, sizeof buf);
        assert_int_equal(mcrx_context_recv(ctx, &dg, &n), 0);
        if (n == 0)
            mcrx_context_wait(ctx, 20, &ready);
    }
    fail_msg("no %s event for %s within %d ms", kind == MCRX_IFEVENT_LOST ? "LOST" : "JOINED",
             ifname, TH_WAIT_MS);
    return ev;
}
