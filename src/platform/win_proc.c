/* Windows: Winsock start-up, clocks, interface addresses, and the figures
 * Windows does not have (drops, /proc). */
#include "win_common.h"

#include <iphlpapi.h>
#include <string.h>

static INIT_ONCE started = INIT_ONCE_STATIC_INIT;
static int start_error;

static BOOL CALLBACK start(PINIT_ONCE once, PVOID arg, PVOID *ctx) {
    WSADATA d;
    (void)once;
    (void)arg;
    (void)ctx;
    start_error = WSAStartup(MAKEWORD(2, 2), &d);
    return TRUE;
}

mcrx_error mcrx__win_startup(mcrx__err *err) {
    InitOnceExecuteOnce(&started, start, NULL, NULL);
    if (start_error != 0)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, start_error,
                              "WSAStartup (Winsock 2.2)", 0);
    return 0;
}

int64_t mcrx__wall_ns(void) {
    FILETIME ft;
    ULARGE_INTEGER t;
    GetSystemTimePreciseAsFileTime(&ft);
    t.LowPart = ft.dwLowDateTime;
    t.HighPart = ft.dwHighDateTime;
    /* 100 ns ticks since 1601 to ns since 1970. */
    return ((int64_t)t.QuadPart - 116444736000000000LL) * 100;
}

uint64_t mcrx__plat_drops(mcrx_sock sock) {
    (void)sock; /* Winsock keeps no per-socket drop count */
    return 0;
}

mcrx_error mcrx__plat_hardware(mcrx_hardware_metrics *out, mcrx__err *err) {
    (void)out;
    return mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0,
                      "the process figures come from Linux's /proc; Windows has none of them "
                      "here");
}

/* GetUnicastIpAddressTable names each address's interface by index, the
 * same for both families. (GetAdaptersAddresses' Ipv6IfIndex is 0 wherever
 * the stack does not fill it in: wine 8 never does, so an IPv6 interface
 * named by address was "not found" there.) */
mcrx_error mcrx__win_index_of_address(const mcrx_ip *addr, uint32_t *index) {
    MIB_UNICASTIPADDRESS_TABLE *t = NULL;
    ULONG i;
    *index = 0;
    if (GetUnicastIpAddressTable(addr->family == MCRX_IP_V6 ? AF_INET6 : AF_INET, &t) !=
        NO_ERROR)
        return MCRX_ERROR_INTERFACE_DISCOVERY_FAILED;
    for (i = 0; i < t->NumEntries; i++) {
        mcrx_ip ip;
        if (mcrx_ip_from_sockaddr((const struct sockaddr *)&t->Table[i].Address, &ip, NULL) ==
                MCRX_ERROR_NONE &&
            mcrx_ip_equal(&ip, addr)) {
            *index = (uint32_t)t->Table[i].InterfaceIndex;
            break;
        }
    }
    FreeMibTable(t);
    return 0;
}

/*
 * Windows has no pollable set of sockets: its best poller is the socket
 * list (WSAPoll), wrapped so that a change of members reaches a wait in
 * progress. A list wait polls the members it saw when it began: without
 * this, a subscription joined while the background receiver (or a
 * mcrx_context_wait) slept with no timeout was never watched, and its
 * datagrams stayed queued until something else woke the wait. Here add and
 * del signal a loopback wake-up that is itself a member; the wait drains it
 * and polls again with the new members for the time left.
 */
typedef struct win_poller {
    mcrx__poller base;
    mcrx__poller *list;
    mcrx__watch changed; /* a member of list */
} win_poller;

/* Largest readiness report handed up at once (the core asks for 64). */
#define WIN_READY_MAX 64

static mcrx_error wp_add(mcrx__poller *p, mcrx__watch *w, mcrx__err *err) {
    win_poller *wp = (win_poller *)p;
    mcrx_error rc = wp->list->ops->add(wp->list, w, err);
    if (rc == 0)
        mcrx__wakeup_signal(wp->changed.handle);
    return rc;
}

static void wp_del(mcrx__poller *p, mcrx__watch *w) {
    win_poller *wp = (win_poller *)p;
    wp->list->ops->del(wp->list, w);
    /* A wait must not go on polling a socket that is about to close. */
    mcrx__wakeup_signal(wp->changed.handle);
}

static mcrx_error wp_wait(mcrx__poller *p, mcrx__watch *extra, mcrx__watch **ready, int max,
                          int timeout_ms, int *n, mcrx__err *err) {
    win_poller *wp = (win_poller *)p;
    mcrx__watch *got[WIN_READY_MAX + 1];
    ULONGLONG end = GetTickCount64() + (ULONGLONG)(timeout_ms > 0 ? timeout_ms : 0);
    int left = timeout_ms;
    if (max > WIN_READY_MAX)
        max = WIN_READY_MAX; /* level-triggered: the rest is reported next time */
    for (;;) {
        int k = 0, i, changed = 0;
        mcrx_error rc = wp->list->ops->wait(wp->list, extra, got, max + 1, left, &k, err);
        *n = 0;
        if (rc != 0)
            return rc;
        for (i = 0; i < k; i++) {
            if (got[i] == &wp->changed)
                changed = 1;
            else if (*n < max)
                ready[(*n)++] = got[i];
        }
        if (!changed || *n > 0)
            return 0;
        mcrx__wakeup_drain(wp->changed.handle);
        if (timeout_ms == 0)
            return 0;
        if (timeout_ms > 0) {
            ULONGLONG now = GetTickCount64();
            if (now >= end)
                return 0;
            left = (int)(end - now);
        }
    }
}

static mcrx_sock wp_fd(const mcrx__poller *p) {
    (void)p;
    return MCRX_SOCK_INVALID;
}

static void wp_close(mcrx__poller *p) {
    win_poller *wp = (win_poller *)p;
    wp->list->ops->del(wp->list, &wp->changed);
    wp->list->ops->close(wp->list);
    mcrx__wakeup_close(wp->changed.handle);
    free(wp);
}

static const mcrx__poller_ops win_poller_ops = {"list", wp_add, wp_del, wp_wait, wp_fd,
                                                 wp_close};

/* Contexts are where programs start, so Winsock starts here too. */
mcrx_error mcrx__poller_open(mcrx__poller **p, mcrx__err *err) {
    win_poller *wp;
    mcrx_error rc;
    if (mcrx__win_startup(err) != 0)
        return err->code;
    wp = calloc(1, sizeof *wp);
    if (wp == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "poller");
    wp->changed.kind = MCRX__WATCH_WAKEUP;
    wp->changed.handle = MCRX_SOCK_INVALID;
    rc = mcrx__wakeup_open(&wp->changed.handle, err);
    if (rc == 0)
        rc = mcrx__poller_list_open(&wp->list, err);
    if (rc == 0)
        rc = wp->list->ops->add(wp->list, &wp->changed, err);
    if (rc != 0) {
        if (wp->list != NULL)
            wp->list->ops->close(wp->list);
        mcrx__wakeup_close(wp->changed.handle);
        free(wp);
        return rc;
    }
    wp->base.ops = &win_poller_ops;
    *p = &wp->base;
    return 0;
}
