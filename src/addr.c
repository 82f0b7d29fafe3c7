/*
 * The address leaf: mcrx_ip values, their text forms and socket-address
 * conversions. It depends on no other file of ours but the error record
 * (error.c), so every layer may use it. The text parser and printer are our
 * own, not the OS's inet_pton/inet_ntop: they accept and print exactly the
 * same forms on every platform (glibc's, which the tests compare against).
 */
#include <string.h>

#include "internal.h"
#include "platform/sysnet.h"

/* ---- text -> bytes ---------------------------------------------------------- */

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Dotted quad: four decimal parts 0..255, no leading zeros, nothing else.
 * Parses up to the end of s or end, whichever comes first. */
static int parse_v4(const char *s, const char *end, uint8_t out[4]) {
    int parts = 0, digits = 0;
    unsigned v = 0;
    for (; s < end && *s != '\0'; s++) {
        if (*s >= '0' && *s <= '9') {
            if (digits > 0 && v == 0)
                return -1; /* a leading zero */
            v = v * 10 + (unsigned)(*s - '0');
            if (v > 255)
                return -1;
            if (digits++ == 0 && ++parts > 4)
                return -1;
        } else if (*s == '.' && digits > 0 && parts < 4) {
            out[parts - 1] = (uint8_t)v;
            v = 0;
            digits = 0;
        } else {
            return -1;
        }
    }
    if (parts != 4 || digits == 0)
        return -1;
    out[3] = (uint8_t)v;
    return 0;
}

/* RFC 4291 section 2.2: eight groups of up to four hex digits, one "::" for
 * a run of zero groups, an embedded dotted quad as the last 32 bits. */
static int parse_v6(const char *s, uint8_t out[16]) {
    uint8_t w[16];
    int n = 0, gap = -1, digits = 0;
    unsigned v = 0;
    const char *tok = s;
    memset(w, 0, sizeof w);
    if (*s == ':' && *++s != ':')
        return -1;
    for (; *s != '\0'; s++) {
        int h = hex_value(*s);
        if (h >= 0) {
            if (++digits > 4)
                return -1;
            v = (v << 4) | (unsigned)h;
        } else if (*s == ':') {
            tok = s + 1;
            if (digits == 0) {
                if (gap >= 0)
                    return -1; /* a second "::" (or ":::") */
                gap = n;
                continue;
            }
            if (s[1] == '\0' || n + 2 > 16)
                return -1; /* ends in a single ':', or too many groups */
            w[n++] = (uint8_t)(v >> 8);
            w[n++] = (uint8_t)v;
            v = 0;
            digits = 0;
        } else if (*s == '.' && n + 4 <= 16) {
            if (parse_v4(tok, tok + strlen(tok), w + n) != 0)
                return -1;
            n += 4;
            digits = 0;
            break;
        } else {
            return -1;
        }
    }
    if (digits > 0) {
        if (n + 2 > 16)
            return -1;
        w[n++] = (uint8_t)(v >> 8);
        w[n++] = (uint8_t)v;
    }
    if (gap >= 0) {
        if (n == 16)
            return -1; /* "::" must stand for at least one group */
        memmove(w + 16 - (n - gap), w + gap, (size_t)(n - gap));
        memset(w + gap, 0, (size_t)(16 - n));
        n = 16;
    }
    if (n != 16)
        return -1;
    memcpy(out, w, 16);
    return 0;
}

/* ---- bytes -> text ------------------------------------------------------------- */

static size_t put_dec(char *p, unsigned v) {
    char rev[10];
    size_t r = 0, k = 0;
    do
        rev[r++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (r > 0)
        p[k++] = rev[--r];
    return k;
}

static size_t put_v4(char *p, const uint8_t b[4]) {
    size_t k = 0;
    int i;
    for (i = 0; i < 4; i++) {
        if (i > 0)
            p[k++] = '.';
        k += put_dec(p + k, b[i]);
    }
    return k;
}

/* RFC 5952: lowercase, no leading zeros, the longest run of two or more zero
 * groups (the first of equal runs) as "::"; the IPv4-mapped and
 * IPv4-compatible forms end in a dotted quad, as glibc prints them. */
static size_t put_v6(char *p, const uint8_t b[16]) {
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int i, best = -1, best_len = 0, cur = -1, cur_len = 0;
    size_t k = 0;
    for (i = 0; i < 8; i++)
        w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    for (i = 0; i < 8; i++) {
        if (w[i] == 0) {
            if (cur < 0)
                cur = i, cur_len = 0;
            if (++cur_len > best_len)
                best = cur, best_len = cur_len;
        } else {
            cur = -1;
        }
    }
    if (best_len < 2)
        best = -1;
    for (i = 0; i < 8; i++) {
        if (i == best) {
            p[k++] = ':';
            if (i == 0)
                p[k++] = ':';
            i += best_len - 1;
            continue;
        }
        if (i == 6 && best == 0 &&
            (best_len == 6 || (best_len == 7 && w[7] != 1) || (best_len == 5 && w[5] == 0xffff)))
            return k + put_v4(p + k, b + 12);
        if (w[i] >= 0x1000)
            p[k++] = hex[w[i] >> 12];
        if (w[i] >= 0x100)
            p[k++] = hex[(w[i] >> 8) & 15];
        if (w[i] >= 0x10)
            p[k++] = hex[(w[i] >> 4) & 15];
        p[k++] = hex[w[i] & 15];
        if (i < 7)
            p[k++] = ':';
    }
    return k;
}

/* ---- public address functions ---------------------------------------------------- */

static mcrx_error fail(mcrx_error code, const char *fmt, const char *arg) {
    mcrx__err_set(mcrx__tls_err(), code, 0, fmt, arg);
    return code;
}

static int all_digits(const char *s) {
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

uint32_t mcrx__ifname_index(const char *name) {
    return if_nametoindex(name);
}

mcrx_error mcrx__ip_parse_scoped(const char *text, mcrx_ip *out, int64_t *index_out) {
    char head[MCRX_IP_STRLEN];
    const char *pct = strrchr(text, '%');
    const char *scope = pct + 1;
    size_t n = (size_t)(pct - text);
    uint64_t idx = 0;

    if (n >= sizeof head)
        return fail(MCRX_ERROR_INVALID_INTERFACE, "invalid scoped IPv6 address '%s'", text);
    memcpy(head, text, n);
    head[n] = '\0';
    memset(out, 0, sizeof *out);
    if (parse_v6(head, out->bytes) != 0)
        return fail(MCRX_ERROR_INVALID_INTERFACE, "invalid IPv6 address in '%s'", text);
    out->family = MCRX_IP_V6;
    if (all_digits(scope)) {
        if (*scope == '\0' || strlen(scope) > 10)
            return fail(MCRX_ERROR_INVALID_INTERFACE, "invalid interface scope in '%s'", text);
        for (; *scope != '\0'; scope++)
            idx = idx * 10 + (uint64_t)(*scope - '0');
        if (idx > UINT32_MAX)
            return fail(MCRX_ERROR_INVALID_INTERFACE, "invalid interface scope in '%s'", text);
        if (idx == 0)
            return fail(MCRX_ERROR_INVALID_INTERFACE, "interface scope of '%s' must not be 0", text);
    } else {
        idx = mcrx__ifname_index(scope);
        if (idx == 0)
            return fail(MCRX_ERROR_INVALID_INTERFACE, "unknown interface name '%s'", scope);
    }
    out->scope_id = (uint32_t)idx;
    *index_out = (int64_t)idx;
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx_ip_parse(const char *text, mcrx_ip *out) {
    int64_t idx;
    if (text == NULL || out == NULL)
        return fail(MCRX_ERROR_INVALID_ARGUMENT, "%s", "NULL address");
    mcrx__err_clear(mcrx__tls_err());
    if (strchr(text, '%') != NULL) {
        mcrx_error e = mcrx__ip_parse_scoped(text, out, &idx);
        return e == MCRX_ERROR_NONE ? e : fail(MCRX_ERROR_INVALID_ADDRESS, "'%s'", text);
    }
    memset(out, 0, sizeof *out);
    if (parse_v4(text, text + strlen(text), out->bytes) == 0) {
        out->family = MCRX_IP_V4;
        return MCRX_ERROR_NONE;
    }
    if (parse_v6(text, out->bytes) == 0) {
        out->family = MCRX_IP_V6;
        return MCRX_ERROR_NONE;
    }
    memset(out, 0, sizeof *out);
    return fail(MCRX_ERROR_INVALID_ADDRESS, "'%s'", text);
}

size_t mcrx_ip_format(const mcrx_ip *ip, char *buf, size_t buflen) {
    char tmp[MCRX_IP_STRLEN];
    size_t n;
    if (ip == NULL || buf == NULL || buflen == 0 ||
        (ip->family != MCRX_IP_V4 && ip->family != MCRX_IP_V6))
        return 0;
    n = ip->family == MCRX_IP_V4 ? put_v4(tmp, ip->bytes) : put_v6(tmp, ip->bytes);
    if (ip->family == MCRX_IP_V6 && ip->scope_id != 0) {
        tmp[n++] = '%';
        n += put_dec(tmp + n, ip->scope_id);
    }
    tmp[n] = '\0';
    if (n + 1 > buflen)
        return 0;
    memcpy(buf, tmp, n + 1);
    return n;
}

int mcrx_ip_equal(const mcrx_ip *a, const mcrx_ip *b) {
    size_t len;
    if (a == NULL || b == NULL || a->family != b->family)
        return 0;
    len = a->family == MCRX_IP_V4 ? 4 : a->family == MCRX_IP_V6 ? 16 : 0;
    return memcmp(a->bytes, b->bytes, len) == 0;
}

int mcrx_ip_is_multicast(const mcrx_ip *ip) {
    if (ip == NULL)
        return 0;
    if (ip->family == MCRX_IP_V4)
        return (ip->bytes[0] & 0xf0) == 0xe0;
    if (ip->family == MCRX_IP_V6)
        return ip->bytes[0] == 0xff;
    return 0;
}

/* ---- socket addresses ------------------------------------------------------------ */

mcrx_error mcrx_ip_from_sockaddr(const struct sockaddr *sa, mcrx_ip *out, uint16_t *port_out) {
    if (sa == NULL || out == NULL) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "sa and out are required");
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        out->family = MCRX_IP_V4;
        memcpy(out->bytes, &in.sin_addr, 4);
        if (port_out != NULL)
            *port_out = ntohs(in.sin_port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        out->family = MCRX_IP_V6;
        memcpy(out->bytes, &in6.sin6_addr, 16);
        out->scope_id = in6.sin6_scope_id;
        if (port_out != NULL)
            *port_out = ntohs(in6.sin6_port);
    } else {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_NON_IP_SOCKET_ADDRESS, 0, "address family %d",
                      sa->sa_family);
        return MCRX_ERROR_NON_IP_SOCKET_ADDRESS;
    }
    return MCRX_ERROR_NONE;
}

size_t mcrx_ip_to_sockaddr(const mcrx_ip *ip, uint16_t port, void *out, size_t outlen) {
    if (ip == NULL || out == NULL)
        return 0;
    if (ip->family == MCRX_IP_V4 && outlen >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memset(&in, 0, sizeof in);
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        memcpy(&in.sin_addr, ip->bytes, 4);
        memcpy(out, &in, sizeof in);
        return sizeof in;
    }
    if (ip->family == MCRX_IP_V6 && outlen >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        in6.sin6_scope_id = ip->scope_id;
        memcpy(&in6.sin6_addr, ip->bytes, 16);
        memcpy(out, &in6, sizeof in6);
        return sizeof in6;
    }
    return 0;
}
