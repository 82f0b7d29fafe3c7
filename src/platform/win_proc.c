/* Windows: Winsock start-up, clocks, interface addresses, and the figures
 * Windows does not have (drops, /proc). */
#include "win_common.h"

#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>
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

int mcrx__plat_max_sources(int family, uint32_t *max, const char **knob) {
    /* Windows documents no per-socket source cap: nothing to check early. */
    (void)family;
    *max = 0;
    *knob = NULL;
    return -1;
}

int64_t mcrx__mono_ns(void) {
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (int64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
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

/* Windows has no pollable set of sockets: its best poller is the socket
 * list (WSAPoll). Contexts are where programs start, so Winsock starts here
 * too. */
mcrx_error mcrx__poller_open(mcrx__poller **p, mcrx__err *err) {
    if (mcrx__win_startup(err) != 0)
        return err->code;
    return mcrx__poller_list_open(p, err);
}

/* The interface lookups of platform.h, over the one above. */
mcrx_error mcrx__plat_index_exists(uint32_t index, mcrx__err *err) {
    char name[IF_NAMESIZE];
    if (if_indextoname(index, name) == NULL)
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, 0,
                          "interface index %u does not exist", index);
    return 0;
}

mcrx_error mcrx__plat_index_of_address(const mcrx_ip *addr, uint32_t *index, mcrx__err *err) {
    char text[MCRX_IP_STRLEN];
    if (mcrx__win_index_of_address(addr, index) == 0 && *index != 0)
        return 0;
    *index = 0;
    mcrx_ip_format(addr, text, sizeof text);
    return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, 0,
                      "failed to resolve IPv%d interface address %s to an interface index "
                      "(no local interface has it)",
                      addr->family, text);
}

/* Every adapter, by index, with if_indextoname's name (what the tools and
 * configs use on Windows, e.g. "ethernet_32768"). */
mcrx_error mcrx__plat_links(mcrx__link **links, size_t *n, mcrx__err *err) {
    ULONG len = 16384, rc;
    IP_ADAPTER_ADDRESSES *list = NULL, *a;
    mcrx__link *v;
    size_t count = 0, i = 0;
    *links = NULL;
    *n = 0;
    for (;;) {
        list = malloc(len);
        if (list == NULL)
            return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "adapter list");
        rc = GetAdaptersAddresses(AF_UNSPEC,
                                  GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST |
                                      GAA_FLAG_SKIP_DNS_SERVER,
                                  NULL, list, &len);
        if (rc != ERROR_BUFFER_OVERFLOW)
            break;
        free(list);
    }
    if (rc != NO_ERROR && rc != ERROR_NO_DATA) {
        free(list);
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, (int)rc,
                          "GetAdaptersAddresses: error %lu", (unsigned long)rc);
    }
    for (a = rc == NO_ERROR ? list : NULL; a != NULL; a = a->Next)
        count++;
    v = calloc(count ? count : 1, sizeof *v);
    if (v == NULL) {
        free(list);
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "interface list");
    }
    for (a = rc == NO_ERROR ? list : NULL; a != NULL; a = a->Next) {
        uint32_t idx = a->IfIndex != 0 ? (uint32_t)a->IfIndex : (uint32_t)a->Ipv6IfIndex;
        char name[IF_NAMESIZE];
        if (idx == 0 || if_indextoname(idx, name) == NULL)
            continue;
        v[i].index = idx;
        snprintf(v[i].name, sizeof v[i].name, "%s", name);
        v[i].flags = (a->OperStatus == IfOperStatusUp ? MCRX__LINK_UP : 0) |
                     ((a->Flags & IP_ADAPTER_NO_MULTICAST) ? 0 : MCRX__LINK_MULTICAST) |
                     (a->IfType == IF_TYPE_SOFTWARE_LOOPBACK ? MCRX__LINK_LOOPBACK : 0);
        v[i].mtu = (uint32_t)a->Mtu;
        i++;
    }
    free(list);
    *links = v;
    *n = i;
    return 0;
}

/* No per-socket membership count to plan against on Windows. */
void mcrx__plat_member_limit(int family, uint32_t *limit, const char **knob) {
    (void)family;
    *limit = 0;
    *knob = NULL;
}

/* No interface monitor: interface sets are joined at join, not rejoined
 * (docs/windows.md). */
mcrx_error mcrx__ifmon_open(mcrx__ifmon **m, mcrx__err *err) {
    *m = NULL;
    return mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0,
                      "no interface monitor on Windows: interface sets are not rejoined");
}

mcrx_sock mcrx__ifmon_handle(const mcrx__ifmon *m) {
    (void)m;
    return MCRX_SOCK_INVALID;
}

mcrx_error mcrx__ifmon_drain(mcrx__ifmon *m, int *changed, mcrx__err *err) {
    (void)m;
    (void)err;
    *changed = 0;
    return 0;
}

void mcrx__ifmon_close(mcrx__ifmon *m) {
    (void)m;
}
