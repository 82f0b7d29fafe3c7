/*
 * The "heimdall-jsonl-v1" metrics files of the Rust crate: the same header,
 * the same row keys in the same order, numbers printed as serde_json prints
 * them, so one set of tools reads files from either implementation.
 *
 * This file writes them. Reading whole files (mcrx_jsonl_validate_file) and
 * merging flags live in the companion library mcrx-core-jsonl (jsonl/),
 * built on jansson; the core keeps no dependency. File system calls are the
 * platform's (src/platform/fs.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform/fs.h"

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

/* ---- reading, only what the writer itself needs --------------------------------------
 *
 * Why a reader is here at all: the header carries flags_json in canonical form
 * (compact, keys sorted at every level, strings escaped as serde_json escapes
 * them, numbers as written), which takes parsing the caller's text; and
 * appending to an existing file means checking that its first line is a
 * header equal to ours, which takes parsing that line. Both with the same
 * strictness as mcrx-core-jsonl's reader (<mcrx/metrics.h> says which), so
 * that whatever the writer writes, the validator accepts, and the other way
 * round. Nothing else reads JSON in the core: no rows, no whole files.
 */

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

/* One key/value pair of an object, the value in canonical form. */
typedef struct jmember {
    sbuf key, value;
} jmember;

/* An object's members, sorted by key (bytes), keys unique. */
typedef struct jobj {
    jmember *m;
    size_t n, cap;
} jobj;

static int key_cmp(const sbuf *a, const sbuf *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
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

/* Compact, keys sorted: as serde_json's default map writes it. */
static void jobj_write(sbuf *b, const jobj *o) {
    size_t i;
    sb_str(b, "{");
    for (i = 0; i < o->n; i++) {
        if (i)
            sb_str(b, ",");
        sb_json_string(b, o->m[i].key.p, o->m[i].key.len);
        sb_str(b, ":");
        sb_add(b, o->m[i].value.p, o->m[i].value.len);
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
 * must mean one thing to every reader). */
static int jobject_parse(jparse *j, jobj *o, int depth) {
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

static int jarray(jparse *j, sbuf *canon, int depth) {
    if (jnest(j, depth) != 0)
        return -1;
    j->s++; /* '[' */
    sb_str(canon, "[");
    jws(j);
    if (j->s < j->end && *j->s == ']') {
        j->s++;
        sb_str(canon, "]");
        return 0;
    }
    for (;;) {
        if (jvalue(j, canon, depth + 1) != 0)
            return -1;
        jws(j);
        if (j->s < j->end && *j->s == ',') {
            j->s++;
            sb_str(canon, ",");
            continue;
        }
        if (j->s < j->end && *j->s == ']') {
            j->s++;
            sb_str(canon, "]");
            return 0;
        }
        return jfail(j, "expected ',' or ']'");
    }
}

/* Any value, appended to canon in canonical form. */
static int jvalue(jparse *j, sbuf *canon, int depth) {
    static const char *const words[] = {"true", "false", "null"};
    const char *start;
    size_t k;
    jws(j);
    if (j->s >= j->end)
        return jfail(j, "expected a value");
    if (*j->s == '{') {
        jobj o;
        int rc = jobject_parse(j, &o, depth);
        if (rc == 0)
            jobj_write(canon, &o);
        jobj_free(&o);
        return rc;
    }
    if (*j->s == '[')
        return jarray(j, canon, depth);
    if (*j->s == '"') {
        sbuf tmp = {0};
        int rc = jstring(j, &tmp);
        if (rc == 0 && tmp.oom)
            rc = jfail_oom(j);
        if (rc == 0)
            sb_json_string(canon, tmp.p ? tmp.p : "", tmp.len);
        free(tmp.p);
        return rc;
    }
    for (k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(j->end - j->s) >= n && memcmp(j->s, words[k], n) == 0) {
            j->s += n;
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
    sb_add(canon, start, (size_t)(j->s - start));
    return 0;
}

/* A whole text that must be one object and nothing else but whitespace. */
static int jdocument(jparse *j, const char *text, size_t len, jobj *o) {
    j->s = text;
    j->end = text + len;
    j->err = NULL;
    j->oom = 0;
    jws(j);
    if (jobject_parse(j, o, 0) != 0)
        return -1;
    jws(j);
    if (j->s != j->end)
        return jfail(j, "trailing characters after the object");
    return 0;
}

/* The canonical value of key in o, or NULL. */
static const sbuf *jobj_get(const jobj *o, const char *key) {
    sbuf k;
    size_t lo = 0, hi = o->n;
    k.p = (char *)key;
    k.len = strlen(key);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&k, &o->m[mid].key);
        if (c == 0)
            return &o->m[mid].value;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int same_text(const sbuf *v, const sbuf *want) {
    return v != NULL && !want->oom && key_cmp(v, want) == 0;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Longest path the writer takes. */
#define PATH_ROOM 4096

static mcrx_error arg_fail(const char *why) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "%s", why);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

static mcrx_error oom_fail(const char *what) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "%s", what);
    return MCRX_ERROR_OUT_OF_MEMORY;
}

/* The existing header is refused: memory, or the reason. */
static mcrx_error header_fail(const char *path, const char *why, int oom) {
    if (oom) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "%s line 1", path);
        return MCRX_ERROR_OUT_OF_MEMORY;
    }
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "%s line 1: %s", path, why);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

/* ---- the header ------------------------------------------------------------------------ */

/* What the writer puts in a header, each in canonical form. */
typedef struct header {
    sbuf schema, artifact, node, producer, flags;
} header;

static void header_free(header *h) {
    free(h->schema.p);
    free(h->artifact.p);
    free(h->node.p);
    free(h->producer.p);
    free(h->flags.p);
}

/*
 * Checks an existing file's header line against ours: a valid header first
 * (the rules mcrx_jsonl_validate_file applies to line 1), then equal in
 * everything but created_at. Comparing canonical forms compares what the
 * texts mean: two strings are equal exactly when their escaped forms are.
 */
static mcrx_error header_check(const char *path, const char *line, size_t n, const header *ours) {
    static const char *const strings[] = {"schema", "artifact_type", "node_id", "producer"};
    const sbuf *v[4], *created, *flags;
    const char *why = NULL;
    jparse j;
    jobj o;
    size_t i;
    mcrx_error rc = MCRX_ERROR_NONE;
    if (jdocument(&j, line, n, &o) != 0) {
        rc = header_fail(path, j.err ? j.err : "bad header", j.oom);
        jobj_free(&o);
        return rc;
    }
    for (i = 0; i < 4; i++) {
        v[i] = jobj_get(&o, strings[i]);
        if (v[i] != NULL && v[i]->p[0] != '"')
            why = "header strings must be strings";
    }
    created = jobj_get(&o, "created_at");
    flags = jobj_get(&o, "flags");
    if (why != NULL)
        ;
    else if (!same_text(v[0], &ours->schema))
        why = "schema is not " MCRX_JSONL_SCHEMA;
    else if (v[1] == NULL || v[2] == NULL || v[3] == NULL || v[1]->len == 2 || v[2]->len == 2 ||
             v[3]->len == 2) /* "" */
        why = "artifact_type, node_id and producer must be non-empty strings";
    /* A number was range-checked when read: it is finite. */
    else if (created == NULL || !(created->p[0] == '-' || (created->p[0] >= '0' &&
                                                           created->p[0] <= '9')))
        why = "created_at must be a finite number";
    else if (flags == NULL || flags->p[0] != '{')
        why = "flags must be an object";
    else if (!same_text(v[1], &ours->artifact) || !same_text(v[2], &ours->node) ||
             !same_text(v[3], &ours->producer) || !same_text(flags, &ours->flags))
        why = "the existing header differs (artifact_type, node_id, producer or flags)";
    if (why != NULL)
        rc = header_fail(path, why, 0);
    jobj_free(&o);
    return rc;
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

/* ---- the writer ------------------------------------------------------------------------- */

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
    mcrx__file *file;
};

/* flags_json, checked and in canonical form, into *flags. */
static mcrx_error flags_canonical(const char *flags_json, sbuf *flags) {
    jparse j;
    jobj o;
    int bad = jdocument(&j, flags_json, strlen(flags_json), &o);
    if (bad == 0)
        jobj_write(flags, &o);
    jobj_free(&o);
    if (bad == 0 && !flags->oom)
        return MCRX_ERROR_NONE;
    if (j.oom || flags->oom)
        return oom_fail("flags");
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                  "flags must be a JSON object: %s", j.err);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

mcrx_error mcrx_jsonl_writer_open(const char *path, const char *artifact_type,
                                  const char *node_id, const char *producer,
                                  const char *flags_json, mcrx_jsonl_writer **out) {
    mcrx_jsonl_writer *w;
    header h;
    sbuf hdr = {0};
    char *text = NULL;
    size_t len, n;
    const char *line;
    mcrx__err *err = mcrx__tls_err();
    mcrx_error rc;

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
    memset(&h, 0, sizeof h);
    rc = flags_canonical(flags_json != NULL ? flags_json : "{}", &h.flags);
    if (rc != MCRX_ERROR_NONE) {
        header_free(&h);
        return rc;
    }
    sb_json_string(&h.schema, MCRX_JSONL_SCHEMA, strlen(MCRX_JSONL_SCHEMA));
    sb_json_string(&h.artifact, artifact_type, strlen(artifact_type));
    sb_json_string(&h.node, node_id, strlen(node_id));
    sb_json_string(&h.producer, producer, strlen(producer));
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        header_free(&h);
        return oom_fail("writer");
    }
    rc = mcrx__fs_make_parents(path, err);
    if (rc == MCRX_ERROR_NONE)
        rc = mcrx__fs_open_locked(path, &w->file, err);
    if (rc == MCRX_ERROR_NONE)
        rc = mcrx__fs_read_all(w->file, &text, &len, err);
    if (rc != MCRX_ERROR_NONE) {
        /* nothing more to do */
    } else if (first_line(text, len, &line, &n)) {
        rc = header_check(path, line, n, &h);
        if (rc == MCRX_ERROR_NONE && text[len - 1] != '\n')
            /* An unfinished last line: our rows start on a line of their own. */
            rc = mcrx__fs_append(w->file, "\n", 1, err);
    } else {
        /* A new file: the header, fields in the Rust crate's order. */
        sb_str(&hdr, "{\"schema\":");
        sb_add(&hdr, h.schema.p, h.schema.len);
        sb_str(&hdr, ",\"artifact_type\":");
        sb_add(&hdr, h.artifact.p, h.artifact.len);
        sb_str(&hdr, ",\"node_id\":");
        sb_add(&hdr, h.node.p, h.node.len);
        sb_str(&hdr, ",\"producer\":");
        sb_add(&hdr, h.producer.p, h.producer.len);
        sb_str(&hdr, ",\"created_at\":");
        sb_f64(&hdr, (double)mcrx__wall_ns() / 1e9);
        sb_str(&hdr, ",\"flags\":");
        sb_add(&hdr, h.flags.p, h.flags.len);
        sb_str(&hdr, "}\n");
        rc = hdr.oom || h.schema.oom || h.artifact.oom || h.node.oom || h.producer.oom
                 ? oom_fail("header")
                 : mcrx__fs_append(w->file, hdr.p, hdr.len, err);
    }
    free(text);
    free(hdr.p);
    header_free(&h);
    if (rc != MCRX_ERROR_NONE) {
        mcrx__fs_close(w->file);
        free(w);
        return rc;
    }
    mcrx__err_clear(err);
    *out = w;
    return MCRX_ERROR_NONE;
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
    rc = row->oom ? oom_fail("row") : mcrx__fs_append(w->file, row->p, row->len, mcrx__tls_err());
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
    mcrx__fs_close(w->file); /* releases the lock */
    free(w);
}
