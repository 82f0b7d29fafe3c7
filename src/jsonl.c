/*
 * The "heimdall-jsonl-v1" metrics files of the Rust crate: the same header,
 * the same row keys in the same order, numbers printed as serde_json prints
 * them, so one set of tools reads files from either implementation.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- a growable string ------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

/* A JSON string literal, escaped as serde_json does. */
static void sb_json_string(sbuf *b, const char *s, size_t n) {
    size_t i;
    sb_add(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        case '\b': sb_add(b, "\\b", 2); break;
        case '\f': sb_add(b, "\\f", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_add(b, esc, 6);
            } else {
                sb_add(b, (const char *)&s[i], 1);
            }
        }
    }
    sb_add(b, "\"", 1);
}

static void sb_u64(sbuf *b, uint64_t v) {
    char t[24];
    sb_add(b, t, (size_t)snprintf(t, sizeof t, "%llu", (unsigned long long)v));
}

/* ---- decimal numbers, independent of the process's locale --------------------------- */

/* Significant digits kept when converting decimal text: more than the 767 a
 * double can need, so the sticky digit below decides rounding exactly. */
#define KEEP_DIGITS 780

/* Clamp for decimal exponents: far beyond any double, yet no overflow. */
#define EXP_LIMIT 1000000000LL

/*
 * The double nearest to (-1)^neg * D * 10^e10, where D is the integer written
 * by the digits of a then b. strtod reads the text "De<e10>", which has no
 * decimal point, so LC_NUMERIC cannot change the result.
 */
static double dec_value(int neg, const char *a, size_t na, const char *b, size_t nb,
                        long long e10) {
    char buf[KEEP_DIGITS + 40];
    size_t i, n = 0, total = na + nb, o = 0;
    int sticky = 0;
    if (neg)
        buf[o++] = '-';
    for (i = 0; i < total; i++) {
        char c = i < na ? a[i] : b[i - na];
        if (n == 0 && c == '0')
            continue; /* leading zeros do not change D */
        if (n < KEEP_DIGITS) {
            buf[o++] = c;
            n++;
        } else {
            /* A dropped digit scales D by ten; any non-zero one only
             * matters for rounding, which one sticky '1' preserves. */
            sticky |= c != '0';
            if (e10 < EXP_LIMIT)
                e10++;
        }
    }
    if (n == 0)
        return neg ? -0.0 : 0.0;
    if (sticky) {
        buf[o++] = '1';
        e10--;
    }
    snprintf(buf + o, sizeof buf - o, "e%lld", e10);
    return strtod(buf, NULL);
}

/*
 * An f64 as serde_json writes it (ryu's shortest round-trip digits): "1.0",
 * "0.25", "1732550400.123", "1e16", "1.5e-7"; null when not finite (as
 * serde_json writes NaN and infinities). printf's "%e" puts the locale's
 * decimal point in the text, so only its ASCII digits are read back.
 */
static void sb_f64(sbuf *b, double v) {
    char sci[48], digits[24], out[48];
    int p, exp10 = 0, nd = 0, kk, i, o = 0;
    const char *q;
    if (!isfinite(v)) {
        sb_str(b, "null");
        return;
    }
    if (v == 0) {
        sb_str(b, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    for (p = 1; p <= 17; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, v);
        nd = 0;
        for (q = sci; *q != '\0' && *q != 'e'; q++)
            if (*q >= '0' && *q <= '9' && nd < (int)sizeof digits)
                digits[nd++] = *q;
        exp10 = *q == 'e' ? atoi(q + 1) : 0;
        if (dec_value(v < 0, digits, (size_t)nd, "", 0, (long long)exp10 - (nd - 1)) == v)
            break;
    }
    if (v < 0)
        out[o++] = '-';
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    kk = exp10 + 1; /* digits[0] sits at 10^(kk-1) */
    if (kk >= nd && kk <= 16) {
        for (i = 0; i < nd; i++)
            out[o++] = digits[i];
        for (; i < kk; i++)
            out[o++] = '0';
        out[o++] = '.';
        out[o++] = '0';
    } else if (kk > 0 && kk <= 16) {
        for (i = 0; i < nd; i++) {
            if (i == kk)
                out[o++] = '.';
            out[o++] = digits[i];
        }
    } else if (kk > -5 && kk <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (i = 0; i < -kk; i++)
            out[o++] = '0';
        for (i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%d", kk - 1);
    }
    sb_add(b, out, (size_t)o);
}

/* ---- a small JSON reader (RFC 8259, strict): enough to check headers and rows ---------- */

#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct jparse {
    const char *s, *end;
    const char *err;
    int oom; /* the failure was memory, not the input */
} jparse;

static void jws(jparse *j) {
    while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
        j->s++;
}

static int jfail(jparse *j, const char *why) {
    if (j->err == NULL)
        j->err = why;
    return -1;
}

static int jfail_oom(jparse *j) {
    j->oom = 1;
    return jfail(j, "out of memory");
}

static int jdigit(const jparse *j) {
    return j->s < j->end && *j->s >= '0' && *j->s <= '9';
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end) {
    size_t n, i;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if ((size_t)(end - s) < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* 1 if the n bytes at s are well-formed UTF-8. */
static int utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t k = utf8_len(p, end);
        if (k == 0)
            return 0;
        p += k;
    }
    return 1;
}

static int jhex4(jparse *j, unsigned *cp) {
    int k;
    *cp = 0;
    for (k = 0; k < 4; k++) {
        char h = j->s < j->end ? *j->s++ : 0;
        *cp <<= 4;
        if (h >= '0' && h <= '9')
            *cp |= (unsigned)(h - '0');
        else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
            *cp |= (unsigned)((h | 0x20) - 'a' + 10);
        else
            return jfail(j, "bad \\u escape");
    }
    return 0;
}

/* A \u escape (after the 'u'), with its low surrogate when it is a high one. */
static int jescape_u(jparse *j, sbuf *out) {
    unsigned cp, lo;
    char u[4];
    size_t n = 0;
    if (jhex4(j, &cp) != 0)
        return -1;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return jfail(j, "lone surrogate in a \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        /* UTF-8 has no encoding for half a pair: only a whole pair is text. */
        if (j->end - j->s < 2 || j->s[0] != '\\' || j->s[1] != 'u')
            return jfail(j, "lone surrogate in a \\u escape");
        j->s += 2;
        if (jhex4(j, &lo) != 0)
            return -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return jfail(j, "lone surrogate in a \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp < 0x80) {
        u[n++] = (char)cp;
    } else if (cp < 0x800) {
        u[n++] = (char)(0xc0 | (cp >> 6));
        u[n++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        u[n++] = (char)(0xe0 | (cp >> 12));
        u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[n++] = (char)(0x80 | (cp & 0x3f));
    } else {
        u[n++] = (char)(0xf0 | (cp >> 18));
        u[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[n++] = (char)(0x80 | (cp & 0x3f));
    }
    if (out)
        sb_add(out, u, n);
    return 0;
}

/* Parses a string into out (UTF-8, unescaped) if out is not NULL. */
static int jstring(jparse *j, sbuf *out) {
    if (j->s >= j->end || *j->s != '"')
        return jfail(j, "expected a string");
    j->s++;
    while (j->s < j->end && *j->s != '"') {
        unsigned char c = (unsigned char)*j->s;
        if (c < 0x20)
            return jfail(j, "control character in a string");
        if (c == '\\') {
            char e;
            j->s++;
            if (j->s >= j->end)
                return jfail(j, "unfinished escape");
            e = *j->s++;
            if (e == 'u') {
                if (jescape_u(j, out) != 0)
                    return -1;
                continue;
            }
            switch (e) {
            case '"': case '\\': case '/': break;
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'f': e = '\f'; break;
            default: return jfail(j, "bad escape");
            }
            if (out)
                sb_add(out, &e, 1);
        } else {
            size_t n = utf8_len((const unsigned char *)j->s, (const unsigned char *)j->end);
            if (n == 0)
                return jfail(j, "a string is not valid UTF-8");
            if (out)
                sb_add(out, j->s, n);
            j->s += n;
        }
    }
    if (j->s >= j->end)
        return jfail(j, "unterminated string");
    j->s++;
    return 0;
}

/*
 * A number in RFC 8259's grammar, nothing more: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?. No NaN, Infinity, hex, leading '+' or zeros. A value
 * beyond the range of a double is refused, as serde_json refuses it.
 */
static int jnumber(jparse *j, double *value) {
    const char *ip, *fp = "";
    size_t ni, nf = 0;
    long long e = 0;
    int neg = 0, eneg = 0;
    double v;
    if (j->s < j->end && *j->s == '-') {
        neg = 1;
        j->s++;
    }
    if (!jdigit(j))
        return jfail(j, "bad number");
    ip = j->s;
    if (*j->s == '0') {
        j->s++;
        if (jdigit(j))
            return jfail(j, "leading zero in a number");
    } else {
        while (jdigit(j))
            j->s++;
    }
    ni = (size_t)(j->s - ip);
    if (j->s < j->end && *j->s == '.') {
        j->s++;
        if (!jdigit(j))
            return jfail(j, "bad number: a digit must follow '.'");
        fp = j->s;
        while (jdigit(j))
            j->s++;
        nf = (size_t)(j->s - fp);
    }
    if (j->s < j->end && (*j->s == 'e' || *j->s == 'E')) {
        j->s++;
        if (j->s < j->end && (*j->s == '+' || *j->s == '-'))
            eneg = *j->s++ == '-';
        if (!jdigit(j))
            return jfail(j, "bad number: a digit must follow the exponent");
        while (jdigit(j)) {
            if (e < EXP_LIMIT)
                e = e * 10 + (*j->s - '0');
            j->s++;
        }
    }
    if (eneg)
        e = -e;
    e -= nf < (size_t)EXP_LIMIT ? (long long)nf : EXP_LIMIT;
    v = dec_value(neg, ip, ni, fp, nf, e);
    if (!isfinite(v))
        return jfail(j, "number out of range");
    if (value)
        *value = v;
    return 0;
}

/* One key/value pair of an object, the value re-serialised. */
typedef struct jmember {
    sbuf key, value;
} jmember;

/* An object's members, sorted by key (bytes), keys unique. */
typedef struct jobj {
    jmember *m;
    size_t n, cap;
} jobj;

/* Called with each key, j at its value (whitespace skipped): may look at the
 * value through a copy of j, and fails the parse by returning non-zero. */
typedef int (*jkey_fn)(void *ctx, const sbuf *key, jparse *j);

static int key_cmp(const sbuf *a, const sbuf *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int key_is(const sbuf *k, const char *s) {
    return k->len == strlen(s) && (k->len == 0 || memcmp(k->p, s, k->len) == 0);
}

static int cmp_member(const void *a, const void *b) {
    return key_cmp(&((const jmember *)a)->key, &((const jmember *)b)->key);
}

static void jobj_free(jobj *o) {
    size_t i;
    for (i = 0; i < o->n; i++) {
        free(o->m[i].key.p);
        free(o->m[i].value.p);
    }
    free(o->m);
    memset(o, 0, sizeof *o);
}

static void sb_member(sbuf *b, const jmember *x) {
    sb_json_string(b, x->key.p, x->key.len);
    sb_str(b, ":");
    sb_add(b, x->value.p, x->value.len);
}

/* Compact, keys sorted: as serde_json's default map writes it. */
static void jobj_write(sbuf *b, const jobj *o) {
    size_t i;
    sb_str(b, "{");
    for (i = 0; i < o->n; i++) {
        if (i)
            sb_str(b, ",");
        sb_member(b, &o->m[i]);
    }
    sb_str(b, "}");
}

static int jvalue(jparse *j, sbuf *canon, int depth);

/*
 * Every recursion goes through jvalue or jobject_parse with depth = the
 * number of arrays and objects around the value, so one check bounds the
 * stack whatever the input.
 */
static int jnest(jparse *j, int depth) {
    if (depth >= MCRX_JSONL_MAX_DEPTH)
        return jfail(j, "arrays and objects nest deeper than " STR(MCRX_JSONL_MAX_DEPTH)
                        " levels");
    return 0;
}

/* Parses an object into o (sorted; a repeated key is refused, as the files
 * must mean one thing to every reader). Each key is passed to on_key. */
static int jobject_parse(jparse *j, jobj *o, int depth, jkey_fn on_key, void *ctx) {
    size_t i;
    memset(o, 0, sizeof *o);
    if (jnest(j, depth) != 0)
        return -1;
    if (j->s >= j->end || *j->s != '{')
        return jfail(j, "expected an object");
    j->s++;
    jws(j);
    if (j->s < j->end && *j->s == '}') {
        j->s++;
        return 0;
    }
    for (;;) {
        jmember *x;
        const char *before;
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 8;
            jmember *g = realloc(o->m, cap * sizeof *o->m);
            if (g == NULL)
                return jfail_oom(j);
            o->m = g;
            o->cap = cap;
        }
        x = &o->m[o->n++];
        memset(x, 0, sizeof *x);
        jws(j);
        if (jstring(j, &x->key) != 0)
            return -1;
        sb_add(&x->key, "", 0); /* an empty key still gets its buffer */
        jws(j);
        if (j->s >= j->end || *j->s != ':')
            return jfail(j, "expected ':'");
        j->s++;
        jws(j);
        before = j->s;
        if (on_key != NULL && on_key(ctx, &x->key, j) != 0)
            return -1;
        j->s = before;
        if (jvalue(j, &x->value, depth + 1) != 0)
            return -1;
        if (x->key.oom || x->value.oom)
            return jfail_oom(j);
        jws(j);
        if (j->s < j->end && *j->s == ',') {
            j->s++;
            continue;
        }
        if (j->s < j->end && *j->s == '}') {
            j->s++;
            break;
        }
        return jfail(j, "expected ',' or '}'");
    }
    qsort(o->m, o->n, sizeof *o->m, cmp_member);
    for (i = 1; i < o->n; i++)
        if (key_cmp(&o->m[i - 1].key, &o->m[i].key) == 0)
            return jfail(j, "duplicate key in an object");
    return 0;
}

/* Parses an object; canon (if not NULL) gets its canonical form. */
static int jobject(jparse *j, sbuf *canon, int depth, jkey_fn on_key, void *ctx) {
    jobj o;
    int rc = jobject_parse(j, &o, depth, on_key, ctx);
    if (rc == 0 && canon != NULL)
        jobj_write(canon, &o);
    jobj_free(&o);
    return rc;
}

static int jarray(jparse *j, sbuf *canon, int depth) {
    int first = 1;
    if (jnest(j, depth) != 0)
        return -1;
    j->s++; /* '[' */
    if (canon)
        sb_str(canon, "[");
    jws(j);
    if (j->s < j->end && *j->s == ']') {
        j->s++;
        if (canon)
            sb_str(canon, "]");
        return 0;
    }
    for (;;) {
        if (!first && canon)
            sb_str(canon, ",");
        first = 0;
        if (jvalue(j, canon, depth + 1) != 0)
            return -1;
        jws(j);
        if (j->s < j->end && *j->s == ',') {
            j->s++;
            continue;
        }
        if (j->s < j->end && *j->s == ']') {
            j->s++;
            if (canon)
                sb_str(canon, "]");
            return 0;
        }
        return jfail(j, "expected ',' or ']'");
    }
}

/* Any value; canon (if not NULL) gets its canonical form. */
static int jvalue(jparse *j, sbuf *canon, int depth) {
    static const char *const words[] = {"true", "false", "null"};
    const char *start;
    size_t k;
    jws(j);
    if (j->s >= j->end)
        return jfail(j, "expected a value");
    if (*j->s == '{')
        return jobject(j, canon, depth, NULL, NULL);
    if (*j->s == '[')
        return jarray(j, canon, depth);
    if (*j->s == '"') {
        sbuf tmp = {0};
        int rc = jstring(j, &tmp);
        if (rc == 0 && tmp.oom)
            rc = jfail_oom(j);
        if (rc == 0 && canon)
            sb_json_string(canon, tmp.p ? tmp.p : "", tmp.len);
        free(tmp.p);
        return rc;
    }
    for (k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(j->end - j->s) >= n && memcmp(j->s, words[k], n) == 0) {
            j->s += n;
            if (canon)
                sb_str(canon, words[k]);
            return 0;
        }
    }
    if (*j->s != '-' && !jdigit(j))
        return jfail(j, "unexpected character");
    start = j->s;
    if (jnumber(j, NULL) != 0)
        return -1;
    /* Numbers keep their text: serde_json would print most of them back
     * the same, and the text is already valid JSON. */
    if (canon)
        sb_add(canon, start, (size_t)(j->s - start));
    return 0;
}

/* A whole text that must be one object and nothing else but whitespace. */
static int jdocument(jparse *j, const char *text, size_t len, jobj *o, jkey_fn on_key,
                     void *ctx) {
    j->s = text;
    j->end = text + len;
    j->err = NULL;
    j->oom = 0;
    jws(j);
    if (jobject_parse(j, o, 0, on_key, ctx) != 0)
        return -1;
    jws(j);
    if (j->s != j->end)
        return jfail(j, "trailing characters after the object");
    return 0;
}

/* ---- the header ------------------------------------------------------------------------ */

typedef struct header {
    sbuf schema, artifact, node, producer, flags;
    int has_created, created_finite, flags_is_object;
} header;

static void header_free(header *h) {
    free(h->schema.p);
    free(h->artifact.p);
    free(h->node.p);
    free(h->producer.p);
    free(h->flags.p);
}

static int sub_fail(jparse *j, const jparse *sub) {
    j->oom |= sub->oom;
    return jfail(j, sub->err ? sub->err : "bad header value");
}

static int header_key(void *ctx, const sbuf *key, jparse *j) {
    header *h = ctx;
    jparse sub = *j;
    sbuf *target = key_is(key, "schema")          ? &h->schema
                   : key_is(key, "artifact_type") ? &h->artifact
                   : key_is(key, "node_id")       ? &h->node
                   : key_is(key, "producer")      ? &h->producer
                                                  : NULL;
    sub.err = NULL;
    if (target != NULL) {
        if (sub.s >= sub.end || *sub.s != '"')
            return jfail(j, "header strings must be strings");
        sb_add(target, "", 0); /* "" still gets a buffer */
        return jstring(&sub, target) == 0 ? 0 : sub_fail(j, &sub);
    }
    if (key_is(key, "created_at")) {
        double v = 0;
        h->has_created = sub.s < sub.end && (*sub.s == '-' || jdigit(&sub));
        if (h->has_created && jnumber(&sub, &v) != 0)
            return sub_fail(j, &sub);
        h->created_finite = h->has_created && isfinite(v);
        return 0;
    }
    if (key_is(key, "flags")) {
        h->flags_is_object = sub.s < sub.end && *sub.s == '{';
        if (h->flags_is_object)
            return jobject(&sub, &h->flags, 1, NULL, NULL) == 0 ? 0 : sub_fail(j, &sub);
    }
    return 0;
}

/* Parses and checks a header line; message in *why on failure, *oom set when
 * the failure was memory. */
static int header_parse(const char *line, size_t len, header *h, const char **why, int *oom) {
    jparse j;
    jobj o;
    int rc;
    memset(h, 0, sizeof *h);
    rc = jdocument(&j, line, len, &o, header_key, h);
    jobj_free(&o);
    *oom = j.oom;
    if (rc != 0) {
        *why = j.err;
        return -1;
    }
    if (h->schema.oom || h->artifact.oom || h->node.oom || h->producer.oom || h->flags.oom) {
        *oom = 1;
        *why = "out of memory";
    } else if (h->schema.p == NULL || !key_is(&h->schema, MCRX_JSONL_SCHEMA))
        *why = "schema is not " MCRX_JSONL_SCHEMA;
    else if (h->artifact.len == 0 || h->node.len == 0 || h->producer.len == 0)
        *why = "artifact_type, node_id and producer must be non-empty strings";
    else if (!h->created_finite)
        *why = "created_at must be a finite number";
    else if (!h->flags_is_object)
        *why = "flags must be an object";
    else
        return 0;
    return -1;
}

static int row_key(void *ctx, const sbuf *key, jparse *j) {
    static const char *const forbidden[] = {"schema", "artifact_type", "node_id", "producer",
                                            "flags"};
    size_t i;
    (void)ctx;
    for (i = 0; i < 5; i++)
        if (key_is(key, forbidden[i]))
            return jfail(j, "a sample row carries a header key");
    return 0;
}

static int row_check(const char *line, size_t len, const char **why, int *oom) {
    jparse j;
    jobj o;
    int rc = jdocument(&j, line, len, &o, row_key, NULL);
    jobj_free(&o);
    *oom = j.oom;
    if (rc != 0)
        *why = j.err;
    return rc;
}

/* ---- files ------------------------------------------------------------------------------ */

/* Longest path the writer takes: its directories are made from a copy. */
#define PATH_ROOM 4096

static char *slurp(int fd, size_t *len) {
    sbuf b = {0};
    char chunk[65536];
    ssize_t r;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return NULL;
    while ((r = read(fd, chunk, sizeof chunk)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            free(b.p);
            return NULL;
        }
        sb_add(&b, chunk, (size_t)r);
    }
    if (b.p == NULL)
        sb_add(&b, "", 0);
    if (b.oom) {
        free(b.p);
        errno = ENOMEM;
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* First non-empty line: [*start, *start + *n). 0 if there is none. */
static int first_line(const char *text, size_t len, const char **start, size_t *n) {
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < e) {
            *start = p;
            *n = (size_t)(e - p);
            return 1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static mcrx_error io_fail(const char *what, const char *path) {
    int e = errno;
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_IO_FAILED, e, "%s %s: %s", what, path, strerror(e));
    return MCRX_ERROR_IO_FAILED;
}

static mcrx_error arg_fail(const char *why) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "%s", why);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

static mcrx_error oom_fail(const char *what) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "%s", what);
    return MCRX_ERROR_OUT_OF_MEMORY;
}

/* A line that failed to parse: memory, or the reason and where. */
static mcrx_error invalid(const char *path, size_t line, const char *why, int oom) {
    if (oom) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "%s line %zu", path, line);
        return MCRX_ERROR_OUT_OF_MEMORY;
    }
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "%s line %zu: %s", path, line,
                  why);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

mcrx_error mcrx_jsonl_validate_file(const char *path) {
    int fd, header_seen = 0;
    size_t len, line = 0;
    char *text;
    const char *p, *end;
    mcrx_error rc = MCRX_ERROR_NONE;
    if (path == NULL)
        return arg_fail("path is NULL");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail("cannot open", path);
    text = slurp(fd, &len);
    close(fd);
    if (text == NULL)
        return io_fail("cannot read", path);
    for (p = text, end = text + len; p < end && rc == MCRX_ERROR_NONE;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        const char *why = NULL;
        const char *q = p;
        int oom = 0;
        line++;
        while (q < p + n && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < p + n) {
            if (!header_seen) {
                header h;
                if (header_parse(p, n, &h, &why, &oom) != 0)
                    rc = invalid(path, line, why ? why : "bad header", oom);
                header_free(&h);
                header_seen = 1;
            } else if (row_check(p, n, &why, &oom) != 0) {
                rc = invalid(path, line, why ? why : "bad row", oom);
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == MCRX_ERROR_NONE && !header_seen)
        rc = invalid(path, 1, "no header", 0);
    free(text);
    if (rc == MCRX_ERROR_NONE)
        mcrx__err_clear(mcrx__tls_err());
    return rc;
}

/* Copies n bytes of s into buf (len > 0), cut to fit at a UTF-8 boundary. */
static void copy_text(char *buf, size_t len, const char *s, size_t n) {
    if (n > len - 1) {
        size_t k = len - 1;
        /* s[k] continues a character: drop that character whole. A character
         * has at most 3 continuation bytes; more is not UTF-8, cut anywhere. */
        while (k > 0 && k + 3 >= len && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
        n = k > 0 ? k : len - 1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
}

void mcrx_jsonl_infer_node_id(const char *path, char *buf, size_t len) {
    const char *p = path != NULL ? path : "";
    const char *slash, *name, *dot;
    size_t n;
    if (buf == NULL || len == 0)
        return;
    slash = strrchr(p, '/');
    if (slash != NULL) {
        /* the parent directory's name */
        const char *dir = slash;
        while (dir > p && dir[-1] != '/')
            dir--;
        n = (size_t)(slash - dir);
        if (n > 0 && !(n == 1 && dir[0] == '.') && !(n == 2 && dir[0] == '.' && dir[1] == '.')) {
            copy_text(buf, len, dir, n);
            return;
        }
        name = slash + 1;
    } else {
        name = p;
    }
    /* the file stem */
    n = strlen(name);
    dot = strrchr(name, '.');
    if (dot != NULL && dot != name)
        n = (size_t)(dot - name);
    if (n == 0)
        copy_text(buf, len, "unknown", 7);
    else
        copy_text(buf, len, name, n);
}

struct McrxJsonlWriter {
    int fd;
    char path[PATH_ROOM];
};

static int mkdirs(const char *path) {
    char tmp[PATH_ROOM];
    char *p;
    snprintf(tmp, sizeof tmp, "%s", path);
    p = strrchr(tmp, '/');
    if (p == NULL || p == tmp)
        return 0;
    *p = '\0';
    for (p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static mcrx_error write_all(mcrx_jsonl_writer *w, const char *s, size_t n) {
    while (n > 0) {
        ssize_t r = write(w->fd, s, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return io_fail("cannot write", w->path);
        }
        s += r;
        n -= (size_t)r;
    }
    return MCRX_ERROR_NONE;
}

static int same_text(const sbuf *b, const char *s) {
    return b->p != NULL && key_is(b, s);
}

mcrx_error mcrx_jsonl_writer_open(const char *path, const char *artifact_type,
                                  const char *node_id, const char *producer,
                                  const char *flags_json, mcrx_jsonl_writer **out) {
    mcrx_jsonl_writer *w;
    sbuf flags = {0}, hdr = {0};
    jparse j;
    jobj fo;
    char *text;
    size_t len, n;
    const char *line;
    int bad;
    mcrx_error rc = MCRX_ERROR_NONE;

    if (out != NULL)
        *out = NULL;
    if (path == NULL || artifact_type == NULL || node_id == NULL || producer == NULL ||
        out == NULL || !*artifact_type || !*node_id || !*producer)
        return arg_fail("path, out, and non-empty artifact_type, node_id and producer are "
                        "required");
    if (strlen(path) >= PATH_ROOM)
        return arg_fail("path is longer than " STR(PATH_ROOM) " bytes");
    /* Written into the header as they are: they must be text JSON can carry. */
    if (!utf8_valid(artifact_type, strlen(artifact_type)) ||
        !utf8_valid(node_id, strlen(node_id)) || !utf8_valid(producer, strlen(producer)))
        return arg_fail("artifact_type, node_id and producer must be UTF-8 text");
    if (flags_json == NULL)
        flags_json = "{}";
    bad = jdocument(&j, flags_json, strlen(flags_json), &fo, NULL, NULL);
    if (bad == 0)
        jobj_write(&flags, &fo);
    jobj_free(&fo);
    if (bad != 0 || flags.oom) {
        free(flags.p);
        if (j.oom || flags.oom)
            return oom_fail("flags");
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "flags must be a JSON object: %s", j.err);
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        free(flags.p);
        return oom_fail("writer");
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    if (mkdirs(path) != 0) {
        rc = io_fail("cannot create the directories of", path);
        goto fail;
    }
    w->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        rc = io_fail("cannot open", path);
        goto fail;
    }
    if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_BUSY, EWOULDBLOCK,
                          "%s is locked by another writer", path);
            rc = MCRX_ERROR_BUSY;
        } else {
            rc = io_fail("cannot lock", path);
        }
        goto fail_fd;
    }
    text = slurp(w->fd, &len);
    if (text == NULL) {
        rc = io_fail("cannot read", path);
        goto fail_fd;
    }
    if (first_line(text, len, &line, &n)) {
        header h;
        const char *why = NULL;
        int oom = 0;
        if (header_parse(line, n, &h, &why, &oom) != 0)
            rc = invalid(path, 1, why ? why : "bad header", oom);
        else if (!same_text(&h.artifact, artifact_type) || !same_text(&h.node, node_id) ||
                 !same_text(&h.producer, producer) || !same_text(&h.flags, flags.p))
            rc = invalid(path, 1,
                         "the existing header differs (artifact_type, node_id, producer or flags)",
                         0);
        else if (text[len - 1] != '\n')
            /* An unfinished last line: our rows start on a line of their own. */
            rc = write_all(w, "\n", 1);
        header_free(&h);
    } else {
        /* A new file: the header, fields in the Rust crate's order. */
        sb_str(&hdr, "{\"schema\":");
        sb_json_string(&hdr, MCRX_JSONL_SCHEMA, strlen(MCRX_JSONL_SCHEMA));
        sb_str(&hdr, ",\"artifact_type\":");
        sb_json_string(&hdr, artifact_type, strlen(artifact_type));
        sb_str(&hdr, ",\"node_id\":");
        sb_json_string(&hdr, node_id, strlen(node_id));
        sb_str(&hdr, ",\"producer\":");
        sb_json_string(&hdr, producer, strlen(producer));
        sb_str(&hdr, ",\"created_at\":");
        sb_f64(&hdr, (double)mcrx__wall_ns() / 1e9);
        sb_str(&hdr, ",\"flags\":");
        sb_str(&hdr, flags.p);
        sb_str(&hdr, "}\n");
        rc = hdr.oom ? oom_fail("header") : write_all(w, hdr.p, hdr.len);
    }
    free(text);
    free(hdr.p);
    if (rc != MCRX_ERROR_NONE)
        goto fail_fd;
    free(flags.p);
    mcrx__err_clear(mcrx__tls_err());
    *out = w;
    return MCRX_ERROR_NONE;
fail_fd:
    close(w->fd);
fail:
    free(flags.p);
    free(w);
    return rc;
}

static void kv_u64(sbuf *b, const char *k, uint64_t v) {
    sb_str(b, ",\"");
    sb_str(b, k);
    sb_str(b, "\":");
    sb_u64(b, v);
}

static void kv_f64(sbuf *b, const char *k, double v) {
    sb_str(b, ",\"");
    sb_str(b, k);
    sb_str(b, "\":");
    sb_f64(b, v);
}

static mcrx_error write_row(mcrx_jsonl_writer *w, sbuf *row) {
    mcrx_error rc;
    sb_str(row, "}\n");
    rc = row->oom ? oom_fail("row") : write_all(w, row->p, row->len);
    free(row->p);
    if (rc == MCRX_ERROR_NONE)
        mcrx__err_clear(mcrx__tls_err());
    return rc;
}

mcrx_error mcrx_jsonl_write_network(mcrx_jsonl_writer *w, const mcrx_context_metrics *m,
                                    const mcrx_metrics_delta *d) {
    sbuf b = {0};
    if (w == NULL || m == NULL || d == NULL)
        return arg_fail("writer, metrics and delta are required");
    sb_str(&b, "{\"ts\":");
    sb_f64(&b, (double)m->captured_at_ns / 1e9);
    kv_f64(&b, "interval_secs", d->interval_secs);
    kv_u64(&b, "active_subscriptions", m->active_subscriptions);
    kv_u64(&b, "joined_subscriptions", m->joined_subscriptions);
    kv_u64(&b, "packets_received_total", m->total_packets_received);
    kv_u64(&b, "bytes_received_total", m->total_bytes_received);
    kv_u64(&b, "packets_received_delta", d->packets_received);
    kv_u64(&b, "bytes_received_delta", d->bytes_received);
    kv_u64(&b, "would_block_count_total", m->total_would_block_count);
    kv_u64(&b, "would_block_count_delta", d->would_block_count);
    kv_u64(&b, "receive_errors_total", m->total_receive_errors);
    kv_u64(&b, "receive_errors_delta", d->receive_errors);
    kv_u64(&b, "join_count_total", m->total_join_count);
    kv_u64(&b, "join_count_delta", d->join_count);
    kv_u64(&b, "leave_count_total", m->total_leave_count);
    kv_u64(&b, "leave_count_delta", d->leave_count);
    kv_u64(&b, "batch_calls_total", m->batch_calls);
    kv_u64(&b, "batch_calls_delta", d->batch_calls);
    kv_u64(&b, "batch_packets_received_total", m->batch_packets_received);
    kv_u64(&b, "batch_packets_received_delta", d->batch_packets_received);
    kv_f64(&b, "packets_per_sec", d->packets_per_sec);
    kv_f64(&b, "bytes_per_sec", d->bytes_per_sec);
    kv_f64(&b, "would_block_per_sec", d->would_block_per_sec);
    kv_f64(&b, "receive_errors_per_sec", d->receive_errors_per_sec);
    return write_row(w, &b);
}

mcrx_error mcrx_jsonl_write_hardware(mcrx_jsonl_writer *w, const mcrx_hardware_delta *d) {
    sbuf b = {0};
    if (w == NULL || d == NULL)
        return arg_fail("writer and delta are required");
    sb_str(&b, "{\"ts\":");
    sb_f64(&b, d->ts);
    kv_f64(&b, "interval_secs", d->interval_secs);
    kv_f64(&b, "cpu_user_secs", d->cpu_user_secs);
    kv_f64(&b, "cpu_system_secs", d->cpu_system_secs);
    kv_f64(&b, "cpu_total_secs", d->cpu_total_secs);
    kv_f64(&b, "cpu_util_percent", d->cpu_util_percent);
    kv_u64(&b, "rss_bytes", d->rss_bytes);
    kv_u64(&b, "virtual_memory_bytes", d->virtual_memory_bytes);
    kv_u64(&b, "thread_count", d->thread_count);
    kv_u64(&b, "open_fds", d->open_fds);
    kv_u64(&b, "page_faults_minor", d->page_faults_minor);
    kv_u64(&b, "page_faults_major", d->page_faults_major);
    kv_u64(&b, "ctx_switches_voluntary", d->ctx_switches_voluntary);
    kv_u64(&b, "ctx_switches_involuntary", d->ctx_switches_involuntary);
    return write_row(w, &b);
}

void mcrx_jsonl_writer_close(mcrx_jsonl_writer *w) {
    if (w == NULL)
        return;
    close(w->fd); /* releases the lock */
    free(w);
}

/* One flags argument of merge: a whole JSON object. */
static mcrx_error merge_arg(const char *name, const char *text, jobj *o) {
    jparse j;
    if (jdocument(&j, text, strlen(text), o, NULL, NULL) == 0)
        return MCRX_ERROR_NONE;
    if (j.oom)
        return oom_fail(name);
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                  "flags must be JSON objects: %s: %s", name, j.err);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

mcrx_error mcrx_jsonl_merge_flags(const char *base, const char *extra, char *out, size_t len) {
    jobj a = {0}, b = {0};
    sbuf m = {0};
    size_t i = 0, k = 0;
    mcrx_error rc;
    if (out != NULL && len > 0)
        out[0] = '\0'; /* a caller that ignores the status still reads text */
    if (base == NULL || extra == NULL || out == NULL)
        return arg_fail("base, extra and out are required");
    rc = merge_arg("base", base, &a);
    if (rc == MCRX_ERROR_NONE)
        rc = merge_arg("extra", extra, &b);
    if (rc == MCRX_ERROR_NONE) {
        /* Both are sorted with unique keys: one merge pass, base winning ties. */
        sb_str(&m, "{");
        while (i < a.n || k < b.n) {
            const jmember *x;
            int c = i == a.n ? 1 : k == b.n ? -1 : key_cmp(&a.m[i].key, &b.m[k].key);
            if (c <= 0) {
                x = &a.m[i++];
                k += c == 0;
            } else {
                x = &b.m[k++];
            }
            if (m.len > 1)
                sb_str(&m, ",");
            sb_member(&m, x);
        }
        sb_str(&m, "}");
        if (m.oom)
            rc = oom_fail("merged flags");
        else if (m.len + 1 > len) {
            mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                          "out has %zu bytes, the merged flags need %zu", len, m.len + 1);
            rc = MCRX_ERROR_INVALID_ARGUMENT;
        }
        else
            memcpy(out, m.p, m.len + 1);
    }
    jobj_free(&a);
    jobj_free(&b);
    free(m.p);
    if (rc == MCRX_ERROR_NONE)
        mcrx__err_clear(mcrx__tls_err());
    return rc;
}
