/* Subscription configs: defaults, validation, and the text forms users type.
 * Addresses themselves are the address leaf's (addr.c). */
#include <stddef.h>
#include <string.h>

#include "internal.h"

static int all_digits(const char *s) {
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Parses a decimal interface index; UINT64_MAX when too long. */
static uint64_t parse_index(const char *s) {
    uint64_t v = 0;
    if (strlen(s) > 10)
        return UINT64_MAX;
    for (; *s != '\0'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return v;
}

static mcrx_error fail(mcrx_error code, const char *fmt, const char *arg) {
    mcrx__err_set(mcrx__tls_err(), code, 0, fmt, arg);
    return code;
}

static int ip_is_unspecified(const mcrx_ip *ip) {
    static const uint8_t zero[16];
    return memcmp(ip->bytes, zero, ip->family == MCRX_IP_V4 ? 4 : 16) == 0;
}

/* IPv4 232/8, IPv6 ff3x::/32 (flags nibble 3, bytes 2 and 3 zero). */
static int ip_is_ssm_range(const mcrx_ip *g) {
    if (g->family == MCRX_IP_V4)
        return g->bytes[0] == 232;
    return g->bytes[0] == 0xff && (g->bytes[1] >> 4) == 3 && g->bytes[2] == 0 &&
           g->bytes[3] == 0;
}

/* ---- configs ------------------------------------------------------------- */

void mcrx_subscription_config_init(mcrx_subscription_config *cfg) {
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = MCRX_SUBSCRIPTION_CONFIG_VERSION;
    cfg->interface_index = MCRX_NO_INTERFACE_INDEX;
    cfg->rx_options = MCRX_RX_DEFAULT;
}

int mcrx_subscription_config_is_ssm(const mcrx_subscription_config *cfg) {
    if (cfg == NULL)
        return 0;
    if (cfg->version >= 2 && cfg->sources_mode == MCRX_SOURCES_INCLUDE)
        return 1;
    return cfg->source.family != MCRX_IP_NONE;
}

void mcrx__config_import(mcrx_subscription_config *dst, const mcrx_subscription_config *src) {
    /* A version 1 caller's struct ends where version 2's fields begin:
     * copy no byte past it, and leave the new fields at their defaults. */
    size_t n = src->version >= 2 ? sizeof *dst : offsetof(mcrx_subscription_config, sources_mode);
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src, n);
}

static mcrx_error invalid(mcrx_error code) {
    mcrx__err_set(mcrx__tls_err(), code, 0, NULL);
    return code;
}

/* The address rules of an SSM source, for source and each listed source. */
static mcrx_error check_source(const mcrx_ip *g, const mcrx_ip *s) {
    static const uint8_t bcast[4] = {255, 255, 255, 255};
    if ((s->family != MCRX_IP_V4 && s->family != MCRX_IP_V6) || ip_is_unspecified(s) ||
        mcrx_ip_is_multicast(s) || (s->family == MCRX_IP_V4 && memcmp(s->bytes, bcast, 4) == 0))
        return invalid(MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    if (s->family != g->family)
        return invalid(MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH);
    return MCRX_ERROR_NONE;
}

static mcrx_error filter_fail(const char *why) {
    return fail(MCRX_ERROR_INVALID_SOURCE_FILTER, "%s", why);
}

/*
 * A version 2 source list. Each listed source follows source's address and
 * family rules. INCLUDE is allowed on any group: on an SSM-range group it is
 * SSM with several sources, on another group it is IGMPv3/MLDv2 source
 * filtering (RFC 3678), which is what lets one subscription switch between
 * INCLUDE and EXCLUDE on the same group. (A single version 1 source keeps
 * its SSM-range rule, for the Rust crate's kinds.) EXCLUDE keeps every
 * source but the listed ones, so it is ASM: an SSM-range group refuses it
 * (RFC 4607) with the kind an ASM config gets there,
 * SSM_GROUP_REQUIRES_SOURCE, the message naming the filter.
 */
static mcrx_error check_list(const mcrx_subscription_config *cfg) {
    const mcrx_ip *g = &cfg->group;
    mcrx_error e;
    uint32_t i;
    if (cfg->sources_mode > MCRX_SOURCES_EXCLUDE) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_SOURCE_FILTER, 0,
                      "unknown sources_mode %u (MCRX_SOURCES_NONE, _INCLUDE or _EXCLUDE)",
                      (unsigned)cfg->sources_mode);
        return MCRX_ERROR_INVALID_SOURCE_FILTER;
    }
    if (cfg->sources_mode == MCRX_SOURCES_NONE)
        return cfg->nsources != 0
                   ? filter_fail("sources_mode is MCRX_SOURCES_NONE but nsources is not 0")
                   : MCRX_ERROR_NONE;
    if (cfg->source.family != MCRX_IP_NONE)
        return filter_fail("source and a sources list together: give the source in the list");
    if (cfg->nsources > 0 && cfg->sources == NULL)
        return filter_fail("nsources is not 0 but sources is NULL");
    if (cfg->sources_mode == MCRX_SOURCES_INCLUDE && cfg->nsources == 0)
        return filter_fail("an INCLUDE filter needs at least one source (INCLUDE{} receives "
                           "nothing; leave the group instead)");
    for (i = 0; i < cfg->nsources; i++)
        if ((e = check_source(g, &cfg->sources[i])) != MCRX_ERROR_NONE)
            return e;
    if (cfg->sources_mode == MCRX_SOURCES_EXCLUDE) {
        if (ip_is_ssm_range(g))
            return fail(MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE, "%s",
                        "an EXCLUDE filter is any-source multicast; SSM-range groups "
                        "(232/8, ff3x::/32) take only INCLUDE");
    }
    return MCRX_ERROR_NONE;
}

/* ---- interface sets ------------------------------------------------------- */

int mcrx__config_has_ifset(const mcrx_subscription_config *cfg) {
    return cfg->version >= 2 && (cfg->ninterfaces > 0 || (cfg->interface_flags & MCRX_IFSET_ALL));
}

/* Linux's rule for device names (dev_valid_name), which Windows' names
 * also keep: 1 to 15 bytes, not "." or "..", no '/', ':', '%' or space. */
static int valid_ifname(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= 16 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s != '\0'; s++)
        if (*s == '/' || *s == ':' || *s == '%' || *s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

mcrx_error mcrx__config_ifentry(const char *text, int family, mcrx__ifentry *out,
                                mcrx__err *err) {
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return mcrx__fail(err, MCRX_ERROR_INVALID_INTERFACE, 0, "interface set entry is NULL");
    if (*text != '\0' && all_digits(text)) {
        uint64_t idx = parse_index(text);
        if (idx == 0 || idx > UINT32_MAX)
            return mcrx__fail(err, MCRX_ERROR_INVALID_INTERFACE, 0,
                              "interface set entry '%s' is not a valid index", text);
        out->kind = MCRX__IFE_INDEX;
        out->index = (uint32_t)idx;
        return 0;
    }
    if (strchr(text, '%') != NULL || strchr(text, ':') != NULL ||
        mcrx_ip_parse(text, &out->addr) == MCRX_ERROR_NONE) {
        int64_t index = MCRX_NO_INTERFACE_INDEX;
        mcrx_error e = strchr(text, '%') != NULL ? mcrx__ip_parse_scoped(text, &out->addr, &index)
                                                 : mcrx_ip_parse(text, &out->addr);
        if (e != MCRX_ERROR_NONE)
            return mcrx__fail(err, MCRX_ERROR_INVALID_INTERFACE, 0,
                              "interface set entry '%s' is neither an address nor a name", text);
        if (out->addr.family != family)
            return mcrx__fail(err, MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH, 0,
                              "interface set entry '%s' is IPv%d, the group IPv%d", text,
                              out->addr.family, family);
        out->kind = MCRX__IFE_ADDRESS;
        out->index = index > 0 ? (uint32_t)index : 0;
        return 0;
    }
    if (!valid_ifname(text))
        return mcrx__fail(err, MCRX_ERROR_INVALID_INTERFACE, 0,
                          "interface set entry '%s' is not a valid interface name (1 to 15 "
                          "characters, no '/', ':', '%%' or space)",
                          text);
    out->kind = MCRX__IFE_NAME;
    memcpy(out->name, text, strlen(text) + 1);
    return 0;
}

static mcrx_error validate_ifset(const mcrx_subscription_config *cfg) {
    mcrx__err *e = mcrx__tls_err();
    uint32_t i;
    if (cfg->interface_flags & ~(MCRX_IFSET_ALL | MCRX_IFSET_LOOPBACK))
        return mcrx__fail(e, MCRX_ERROR_INVALID_ARGUMENT, 0,
                          "unknown interface_flags bits 0x%x",
                          (unsigned)(cfg->interface_flags & ~(MCRX_IFSET_ALL | MCRX_IFSET_LOOPBACK)));
    if ((cfg->interface_flags & MCRX_IFSET_LOOPBACK) && !(cfg->interface_flags & MCRX_IFSET_ALL))
        return mcrx__fail(e, MCRX_ERROR_INVALID_INTERFACE, 0,
                          "MCRX_IFSET_LOOPBACK goes with MCRX_IFSET_ALL (name lo in the list "
                          "to join on loopback alone)");
    if (cfg->ninterfaces > 0 && cfg->interfaces == NULL)
        return mcrx__fail(e, MCRX_ERROR_INVALID_ARGUMENT, 0,
                          "ninterfaces is %u but interfaces is NULL", (unsigned)cfg->ninterfaces);
    if (cfg->ninterfaces > MCRX__IFSET_MAX)
        return mcrx__fail(e, MCRX_ERROR_INVALID_INTERFACE, 0,
                          "an interface set lists at most %d interfaces, not %u",
                          MCRX__IFSET_MAX, (unsigned)cfg->ninterfaces);
    if (!mcrx__config_has_ifset(cfg))
        return MCRX_ERROR_NONE;
    if (cfg->interface.family != MCRX_IP_NONE || cfg->interface_index != MCRX_NO_INTERFACE_INDEX)
        return mcrx__fail(e, MCRX_ERROR_INVALID_INTERFACE, 0,
                          "interface / interface_index and an interface set (interfaces, "
                          "MCRX_IFSET_ALL) exclude each other: list the interface in the set");
    for (i = 0; i < cfg->ninterfaces; i++) {
        mcrx__ifentry ent;
        mcrx_error rc = mcrx__config_ifentry(cfg->interfaces[i], cfg->group.family, &ent, e);
        if (rc != MCRX_ERROR_NONE)
            return rc;
    }
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx_subscription_config_validate(const mcrx_subscription_config *cfg) {
    const mcrx_ip *g, *s;
    mcrx_error e;
    /* Fields past version 1 are read only when version says they exist. */
    int has_list = cfg != NULL && cfg->version >= 2 && cfg->sources_mode != MCRX_SOURCES_NONE;
    if (cfg == NULL || cfg->version < 1 || cfg->version > MCRX_SUBSCRIPTION_CONFIG_VERSION)
        return fail(MCRX_ERROR_INVALID_ARGUMENT, "%s",
                    "config is NULL or was not set up by mcrx_subscription_config_init");
    g = &cfg->group;
    s = &cfg->source;
    if (cfg->dst_port == 0)
        return invalid(MCRX_ERROR_INVALID_DESTINATION_PORT);
    if (!mcrx_ip_is_multicast(g))
        return invalid(MCRX_ERROR_INVALID_MULTICAST_GROUP);
    if (cfg->version >= 2 && (e = check_list(cfg)) != MCRX_ERROR_NONE)
        return e;
    if (s->family == MCRX_IP_NONE && !has_list && ip_is_ssm_range(g))
        return invalid(MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    if (s->family != MCRX_IP_NONE) {
        if ((e = check_source(g, s)) != MCRX_ERROR_NONE)
            return e;
        if (g->family == MCRX_IP_V4 && !ip_is_ssm_range(g))
            return invalid(MCRX_ERROR_INVALID_IPV4_SSM_GROUP);
        if (g->family == MCRX_IP_V6 && !ip_is_ssm_range(g))
            return invalid(MCRX_ERROR_INVALID_IPV6_SSM_GROUP);
    }
    if (cfg->interface.family != MCRX_IP_NONE && cfg->interface.family != g->family)
        return invalid(MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH);
    if (cfg->interface_index != MCRX_NO_INTERFACE_INDEX) {
        if (cfg->interface_index <= 0)
            return invalid(MCRX_ERROR_INVALID_INTERFACE_INDEX);
        if (cfg->interface_index > (int64_t)UINT32_MAX) {
            mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_INTERFACE_INDEX, 0,
                          "%lld is above the largest index, %lu",
                          (long long)cfg->interface_index, (unsigned long)UINT32_MAX);
            return MCRX_ERROR_INVALID_INTERFACE_INDEX;
        }
        if (g->family == MCRX_IP_V4)
            return invalid(MCRX_ERROR_INTERFACE_INDEX_REQUIRES_IPV6);
    }
    if (cfg->version >= 2 && (e = validate_ifset(cfg)) != MCRX_ERROR_NONE)
        return e;
    mcrx__err_clear(mcrx__tls_err());
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx__config_prepare(const mcrx_subscription_config *src,
                                mcrx_subscription_config *cfg, mcrx_ip **list, size_t *nlist,
                                mcrx__err *err) {
    mcrx_error e;
    *list = NULL;
    *nlist = 0;
    mcrx__config_import(cfg, src);
    if (mcrx_subscription_config_validate(cfg) != MCRX_ERROR_NONE) {
        mcrx__err_copy(err, mcrx__tls_err());
        return err->code;
    }
    if (cfg->sources_mode != MCRX_SOURCES_NONE) {
        e = mcrx__sources_normalise(cfg->sources, cfg->nsources, list, nlist, err);
        if (e != 0)
            return e;
        cfg->sources = *list;
        cfg->nsources = (uint32_t)*nlist;
    } else if (cfg->source.family != MCRX_IP_NONE) {
        return mcrx__sources_normalise(&cfg->source, 1, list, nlist, err);
    } else {
        cfg->sources = NULL; /* a version 2 caller's pointer with nsources 0 */
    }
    return 0;
}

void mcrx__config_filter(const mcrx_subscription_config *cfg, const mcrx_ip *list, size_t nlist,
                         mcrx__filter *f) {
    mcrx__filter_none(f, &cfg->group);
    f->mode = mcrx_subscription_config_is_ssm(cfg) ? MCRX__INCLUDE : MCRX__EXCLUDE;
    f->sources = list;
    f->nsources = nlist;
}

mcrx_error mcrx_parse_interface(const char *text, int group_family, mcrx_ip *addr_out,
                                int64_t *index_out) {
    if (text == NULL || addr_out == NULL || index_out == NULL)
        return fail(MCRX_ERROR_INVALID_ARGUMENT, "%s", "NULL interface argument");
    memset(addr_out, 0, sizeof *addr_out);
    *index_out = MCRX_NO_INTERFACE_INDEX;
    mcrx__err_clear(mcrx__tls_err());
    if (group_family == MCRX_IP_V6 && strchr(text, '%') != NULL)
        return mcrx__ip_parse_scoped(text, addr_out, index_out);
    if (group_family == MCRX_IP_V6 && all_digits(text)) {
        uint64_t idx = parse_index(text);
        if (*text == '\0' || idx > UINT32_MAX)
            return fail(MCRX_ERROR_INVALID_INTERFACE, "invalid interface index '%s'", text);
        if (idx == 0)
            return fail(MCRX_ERROR_INVALID_INTERFACE_INDEX, "interface index '%s'", text);
        *index_out = (int64_t)idx;
        return MCRX_ERROR_NONE;
    }
    if (mcrx_ip_parse(text, addr_out) != MCRX_ERROR_NONE)
        return fail(MCRX_ERROR_INVALID_INTERFACE, "invalid interface address '%s'", text);
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx_subscription_config_parse(mcrx_subscription_config *cfg, const char *group,
                                          uint16_t dst_port, const char *source,
                                          const char *interface) {
    mcrx_error e;
    if (cfg == NULL || group == NULL)
        return fail(MCRX_ERROR_INVALID_ARGUMENT, "%s", "config and group are required");
    mcrx_subscription_config_init(cfg);
    cfg->dst_port = dst_port;
    if (mcrx_ip_parse(group, &cfg->group) != MCRX_ERROR_NONE)
        return fail(MCRX_ERROR_INVALID_ADDRESS, "invalid group IP address '%s'", group);
    cfg->group.scope_id = 0;
    if (source != NULL && mcrx_ip_parse(source, &cfg->source) != MCRX_ERROR_NONE)
        return fail(MCRX_ERROR_INVALID_ADDRESS, "invalid source IP address '%s'", source);
    if (interface != NULL) {
        e = mcrx_parse_interface(interface, cfg->group.family, &cfg->interface,
                                 &cfg->interface_index);
        if (e != MCRX_ERROR_NONE)
            return e;
    }
    mcrx__err_clear(mcrx__tls_err());
    return MCRX_ERROR_NONE;
}

void mcrx_datagram_init(mcrx_datagram *dg, void *buf, size_t cap) {
    if (dg == NULL)
        return;
    memset(dg, 0, sizeof *dg);
    dg->buf = buf;
    dg->cap = cap;
}

void mcrx_datagrams_init(mcrx_datagram *dgs, size_t n, void *arena, size_t slot_size,
                         mcrx_metadata *metas) {
    size_t i;
    if (dgs == NULL)
        return;
    for (i = 0; i < n; i++) {
        /* No arithmetic on a NULL arena: the slots get no buffer, which the
         * receive calls refuse. */
        mcrx_datagram_init(&dgs[i], arena != NULL ? (char *)arena + i * slot_size : NULL,
                           slot_size);
        if (metas != NULL)
            dgs[i].meta = &metas[i];
    }
}

mcrx_error mcrx__config_check_bound(const mcrx_subscription_config *cfg, const mcrx_ip *ip,
                                    uint16_t port, mcrx__err *err) {
    if (ip->family != cfg->group.family)
        return mcrx__fail(err, MCRX_ERROR_EXISTING_SOCKET_ADDRESS_FAMILY_MISMATCH, 0,
                          "socket is IPv%d, group is IPv%d", ip->family, cfg->group.family);
    if (port != cfg->dst_port)
        return mcrx__fail(err, MCRX_ERROR_EXISTING_SOCKET_PORT_MISMATCH, 0,
                          "expected %u, actual %u%s", cfg->dst_port, port,
                          port == 0 ? " (socket is not bound)" : "");
    return 0;
}

mcrx_error mcrx__config_interface_index(const mcrx_subscription_config *cfg, uint32_t *ifindex,
                                        mcrx__err *err) {
    *ifindex = 0;
    if (cfg->group.family == MCRX_IP_V6 && cfg->interface_index != MCRX_NO_INTERFACE_INDEX) {
        *ifindex = (uint32_t)cfg->interface_index;
        return mcrx__plat_index_exists(*ifindex, err);
    }
    if (cfg->interface.family != cfg->group.family || ip_is_unspecified(&cfg->interface))
        return 0;
    if (cfg->group.family == MCRX_IP_V4) {
        /* As in the Rust crate, an IPv4 address no interface has is the
         * join's failure (IP_ADD_MEMBERSHIP names it), not the add's. The
         * kernel's IPv4 membership check is per interface in any case. */
        mcrx__err ignored;
        if (mcrx__plat_index_of_address(&cfg->interface, ifindex, &ignored) != 0)
            *ifindex = 0;
        return 0;
    }
    return mcrx__plat_index_of_address(&cfg->interface, ifindex, err);
}
