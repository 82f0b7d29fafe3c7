/*
 * Linux's interface lookups (platform.h, "interfaces"): an address to its
 * interface index, and whether an index exists. Apart from the backends so
 * that the core's interface policy (mcrx__config_interface_index), which the
 * backends call, depends on these and not on a backend.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "../internal.h"

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} sockaddr_u;

/* Finds the index of the interface holding addr (IPv4 or IPv6). */
mcrx_error mcrx__plat_index_of_address(const mcrx_ip *addr, uint32_t *index_out, mcrx__err *err) {
    struct ifaddrs *list, *it;
    char text[MCRX_IP_STRLEN];
    int af = addr->family == MCRX_IP_V6 ? AF_INET6 : AF_INET;
    if (getifaddrs(&list) != 0)
    {
        char os_text[128];
        int os = errno;
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, os, "getifaddrs: %s (errno %d)",
                          mcrx__os_error_text(os, os_text, sizeof os_text), os);
    }
    *index_out = 0;
    for (it = list; it != NULL; it = it->ifa_next) {
        const sockaddr_u *a = (const sockaddr_u *)(const void *)it->ifa_addr;
        if (a == NULL || a->sa.sa_family != af)
            continue;
        if (af == AF_INET && memcmp(&a->in.sin_addr, addr->bytes, 4) != 0)
            continue;
        if (af == AF_INET6 && (memcmp(&a->in6.sin6_addr, addr->bytes, 16) != 0 ||
                               (addr->scope_id != 0 && a->in6.sin6_scope_id != 0 &&
                                a->in6.sin6_scope_id != addr->scope_id)))
            continue;
        *index_out = if_nametoindex(it->ifa_name);
        if (*index_out != 0)
            break;
    }
    freeifaddrs(list);
    if (*index_out == 0) {
        mcrx_ip_format(addr, text, sizeof text);
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, 0,
                             "failed to resolve IPv%d interface address %s to an interface "
                             "index (no local interface has it)",
                             addr->family, text);
    }
    return 0;
}

mcrx_error mcrx__plat_index_exists(uint32_t index, mcrx__err *err) {
    char name[IF_NAMESIZE];
    if (if_indextoname(index, name) == NULL)
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, errno,
                          "interface index %u does not exist", index);
    return 0;
}

