#define _GNU_SOURCE
#include "tool_common.h"

#include <errno.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

int mcrx_tool_parse_ulong(const char *s, unsigned long min, unsigned long max,
                          unsigned long *out) {
    char *end;
    unsigned long v;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int mcrx_tool_parse_seconds(const char *s, double *out) {
    char *end;
    double v;
    if (s == NULL || *s == '\0')
        return -1;
    v = strtod(s, &end);
    if (*end != '\0' || !(v > 0) || v > 1e9)
        return -1;
    *out = v;
    return 0;
}

void mcrx_tool_describe_interface(const mcrx_subscription_config *cfg, char *buf, size_t len) {
    char ip[MCRX_IP_STRLEN];
    int has_index = cfg->interface_index != MCRX_NO_INTERFACE_INDEX;
    if (cfg->version >= 2 && (cfg->ninterfaces > 0 || (cfg->interface_flags & MCRX_IFSET_ALL))) {
        size_t used = 0;
        uint32_t i;
        buf[0] = '\0';
        if (cfg->interface_flags & MCRX_IFSET_ALL)
            used += (size_t)snprintf(buf, len, "all%s", cfg->ninterfaces > 0 ? "+" : "");
        for (i = 0; i < cfg->ninterfaces && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "",
                                     cfg->interfaces[i]);
    } else if (cfg->interface.family != MCRX_IP_NONE) {
        mcrx_ip plain = cfg->interface;
        plain.scope_id = 0;
        mcrx_ip_format(&plain, ip, sizeof ip);
        if (has_index)
            snprintf(buf, len, "%s%%%lld", ip, (long long)cfg->interface_index);
        else
            snprintf(buf, len, "%s", ip);
    } else if (has_index) {
        snprintf(buf, len, "ifindex:%lld", (long long)cfg->interface_index);
    } else {
        snprintf(buf, len, "default");
    }
}

/* Length of the UTF-8 sequence at p (strict, as Rust's from_utf8), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t k, i;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        k = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        k = 4, cp = c & 0x07;
    else
        return 0;
    if (n < k)
        return 0;
    for (i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return k;
}

static int is_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

void mcrx_tool_preview(const unsigned char *p, size_t n, char *buf, size_t len) {
    size_t i, o = 0, chars = 0;
    if (is_utf8(p, n)) {
        for (i = 0; i < n && chars < 64;) {
            size_t k = utf8_len(p + i, n - i);
            if (o + k + 4 >= len)
                break;
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
            chars++;
        }
        if (i < n)
            o += (size_t)snprintf(buf + o, len - o, "...");
        buf[o] = '\0';
        return;
    }
    o = (size_t)snprintf(buf, len, "0x");
    for (i = 0; i < n && i < 16; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%02x", i ? " " : "", p[i]);
    if (n > 16)
        snprintf(buf + o, len - o, " ... (%zu bytes total)", n);
}

static void endpoint(const mcrx_ip *ip, unsigned port, char *buf, size_t len) {
    char text[MCRX_IP_STRLEN];
    mcrx_ip_format(ip, text, sizeof text);
    if (ip->family == MCRX_IP_V6)
        snprintf(buf, len, "[%s]:%u", text, port);
    else
        snprintf(buf, len, "%s:%u", text, port);
}

/* Rust's Debug form of an Option: Some(x) or None. */
static void opt_ip(const mcrx_ip *ip, int present, char *buf, size_t len) {
    char text[MCRX_IP_STRLEN];
    if (!present || ip->family == MCRX_IP_NONE) {
        snprintf(buf, len, "None");
        return;
    }
    mcrx_ip_format(ip, text, sizeof text);
    snprintf(buf, len, "Some(%s)", text);
}

static void opt_u32(unsigned v, int present, char *buf, size_t len) {
    if (present)
        snprintf(buf, len, "Some(%u)", v);
    else
        snprintf(buf, len, "None");
}

void mcrx_tool_print_human(FILE *f, const mcrx_datagram *dg, int meta) {
    char src[96], group[MCRX_IP_STRLEN], preview[512];
    endpoint(&dg->source, dg->source_port, src, sizeof src);
    mcrx_ip_format(&dg->group, group, sizeof group);
    mcrx_tool_preview(dg->buf, dg->len, preview, sizeof preview);
    fprintf(f, "[recv] sub=%llu src=%s group=%s dst_port=%u len=%zu%s\n",
            (unsigned long long)dg->subscription_id, src, group, dg->dst_port, dg->len,
            dg->flags & MCRX_DATAGRAM_TRUNCATED ? " truncated" : "");
    fprintf(f, "       payload: %s\n", preview);
    if (meta && dg->meta != NULL) {
        const mcrx_metadata *m = dg->meta;
        char local[96], cif[96], cidx[32], dst[96], ing[32];
        endpoint(&m->socket_local_ip, m->socket_local_port, local, sizeof local);
        opt_ip(&m->configured_interface, 1, cif, sizeof cif);
        opt_u32(m->configured_interface_index, m->configured_interface_index != 0, cidx,
                sizeof cidx);
        opt_ip(&m->destination_local_ip, (m->valid & MCRX_META_DESTINATION) != 0, dst, sizeof dst);
        opt_u32(m->ingress_interface_index, (m->valid & MCRX_META_INGRESS_IF) != 0, ing,
                sizeof ing);
        fprintf(f,
                "       meta: socket_local_addr=Some(%s) configured_interface=%s "
                "configured_interface_index=%s destination_local_ip=%s ingress_ifindex=%s\n",
                local, cif, cidx, dst, ing);
    }
}

static void json_string(FILE *f, const unsigned char *p, size_t n) {
    size_t i;
    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc((int)c, f);
    }
    fputc('"', f);
}

static void json_ip(FILE *f, const char *key, const mcrx_ip *ip, int present) {
    char text[MCRX_IP_STRLEN];
    if (!present || ip->family == MCRX_IP_NONE) {
        fprintf(f, ",\"%s\":null", key);
        return;
    }
    mcrx_ip_format(ip, text, sizeof text);
    fprintf(f, ",\"%s\":\"%s\"", key, text);
}

void mcrx_tool_print_json(FILE *f, const mcrx_datagram *dg, int meta) {
    const unsigned char *p = dg->buf;
    const mcrx_metadata *md = dg->meta;
    size_t i;
    fprintf(f, "{\"subscription_id\":%llu", (unsigned long long)dg->subscription_id);
    json_ip(f, "source", &dg->source, 1);
    fprintf(f, ",\"source_port\":%u", dg->source_port);
    json_ip(f, "group", &dg->group, 1);
    fprintf(f, ",\"dst_port\":%u,\"len\":%zu,\"wire_len\":%zu,\"truncated\":%s", dg->dst_port,
            dg->len, dg->wire_len, dg->flags & MCRX_DATAGRAM_TRUNCATED ? "true" : "false");
    fprintf(f, ",\"payload_text\":");
    if (is_utf8(p, dg->len))
        json_string(f, p, dg->len);
    else
        fprintf(f, "null");
    fprintf(f, ",\"payload_hex\":\"");
    for (i = 0; i < dg->len; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
    /* Kernel receive time, TTL / hop limit, the socket's drop count so far. */
    if (md != NULL && (md->valid & MCRX_META_TIMESTAMP))
        fprintf(f, ",\"rx_timestamp_ns\":%lld", (long long)md->rx_timestamp_ns);
    else
        fprintf(f, ",\"rx_timestamp_ns\":null");
    if (md != NULL && (md->valid & MCRX_META_TTL))
        fprintf(f, ",\"ttl\":%u", md->ttl);
    else
        fprintf(f, ",\"ttl\":null");
    if (md != NULL && (md->valid & MCRX_META_DROPS))
        fprintf(f, ",\"drops\":%llu", (unsigned long long)md->kernel_drops);
    else
        fprintf(f, ",\"drops\":null");
    if (meta && dg->meta != NULL) {
        const mcrx_metadata *m = dg->meta;
        json_ip(f, "socket_local_ip", &m->socket_local_ip, 1);
        fprintf(f, ",\"socket_local_port\":%u", m->socket_local_port);
        json_ip(f, "configured_interface", &m->configured_interface, 1);
        if (m->configured_interface_index)
            fprintf(f, ",\"configured_interface_index\":%u", m->configured_interface_index);
        else
            fprintf(f, ",\"configured_interface_index\":null");
        json_ip(f, "destination_local_ip", &m->destination_local_ip,
                (m->valid & MCRX_META_DESTINATION) != 0);
        if (m->valid & MCRX_META_INGRESS_IF)
            fprintf(f, ",\"ingress_ifindex\":%u", m->ingress_interface_index);
        else
            fprintf(f, ",\"ingress_ifindex\":null");
    }
    fprintf(f, "}\n");
}

void mcrx_tool_print(FILE *f, const mcrx_datagram *dg, const mcrx_tool_options *o) {
    if (o->json)
        mcrx_tool_print_json(f, dg, o->meta);
    else
        mcrx_tool_print_human(f, dg, o->meta);
    fflush(f);
}

void mcrx_tool_print_interface_events(FILE *f, mcrx_context *ctx, const char *name) {
    mcrx_interface_event ev;
    int got = 0;
    while (mcrx_context_next_interface_event(ctx, &ev, &got) == MCRX_STATUS_OK && got) {
        const char *what = ev.kind == MCRX_IFEVENT_JOINED ? "joined"
                           : ev.kind == MCRX_IFEVENT_LOST ? "lost"
                                                          : "rejoin failed";
        if (ev.kind == MCRX_IFEVENT_FAILED)
            fprintf(f, "%s: interface %s (index %u): %s: %s (errno %d)\n", name,
                    ev.interface_name, ev.interface_index, what, mcrx_error_name(ev.error),
                    ev.os_error);
        else
            fprintf(f, "%s: interface %s (index %u): %s\n", name, ev.interface_name,
                    ev.interface_index, what);
        fflush(f);
    }
}
