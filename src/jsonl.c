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

/*
 * An f64 as serde_json writes it (ryu's shortest round-trip digits): "1.0",
 * "0.25", "1732550400.123", "1e16", "1.5e-7"; null when not finite.
 */
static void sb_f64(sbuf *b, double v) {
    char sci[40], digits[20], out[48];
    int p, exp10, nd = 0, kk, i, o = 0;
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
        if (strtod(sci, NULL) == v)
            break;
    }
    q = sci;
    if (*q == '-')
        out[o++] = *q++;
    for (; *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    exp10 = atoi(q + 1);
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

/* ---- a small JSON reader: enough to check headers and rows ------------------------- */

typedef struct jparse {
    const char *s, *end;
    const char *err;
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

/* Parses a string into out (UTF-8, unescaped) if out is not NULL. */
static int jstring(jparse *j, sbuf *out) {
    if (j->s >= j->end || *j->s != '"')
        return jfail(j, "expected a string");
    j->s++;
    while (j->s < j->end && *j->s != '"') {
        char c = *j->s++;
        if ((unsigned char)c < 0x20)
            return jfail(j, "control character in a string");
        if (c == '\\') {
            char e;
            if (j->s >= j->end)
                return jfail(j, "unfinished escape");
            e = *j->s++;
            if (e == 'u') {
                unsigned cp = 0;
                int k;
                char u[4];
                size_t n = 0;
                for (k = 0; k < 4; k++) {
                    char h = j->s < j->end ? *j->s++ : 0;
                    cp <<= 4;
                    if (h >= '0' && h <= '9')
                        cp |= (unsigned)(h - '0');
                    else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
                        cp |= (unsigned)((h | 0x20) - 'a' + 10);
                    else
                        return jfail(j, "bad \\u escape");
                }
                /* Surrogates are kept as their code units: enough to compare. */
                if (cp < 0x80) {
                    u[n++] = (char)cp;
                } else if (cp < 0x800) {
                    u[n++] = (char)(0xc0 | (cp >> 6));
                    u[n++] = (char)(0x80 | (cp & 0x3f));
                } else {
                    u[n++] = (char)(0xe0 | (cp >> 12));
                    u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[n++] = (char)(0x80 | (cp & 0x3f));
                }
                if (out)
                    sb_add(out, u, n);
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
        } else if (out) {
            sb_add(out, &c, 1);
        }
    }
    if (j->s >= j->end)
        return jfail(j, "unterminated string");
    j->s++;
    return 0;
}

static int jvalue(jparse *j, sbuf *canon, int depth);

/* One key/value pair of an object, re-serialised, for sorting. */
typedef struct jmember {
    sbuf key, value;
} jmember;

static int cmp_member(const void *a, const void *b) {
    return strcmp(((const jmember *)a)->key.p, ((const jmember *)b)->key.p);
}

/*
 * Parses an object. canon (if not NULL) gets it compact with sorted keys, as
 * serde_json's default map writes it. Each key seen is passed to on_key.
 */
static int jobject(jparse *j, sbuf *canon, int depth, int (*on_key)(void *, const char *, jparse *),
                   void *ctx) {
    jmember *m = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;
    if (depth > 64)
        return jfail(j, "nesting too deep");
    if (j->s >= j->end || *j->s != '{')
        return jfail(j, "expected an object");
    j->s++;
    jws(j);
    if (j->s < j->end && *j->s == '}') {
        j->s++;
        if (canon)
            sb_str(canon, "{}");
        return 0;
    }
    for (;;) {
        jmember *x;
        const char *before;
        if (n == cap) {
            jmember *g = realloc(m, (cap = cap ? cap * 2 : 8) * sizeof *m);
            if (g == NULL) {
                rc = jfail(j, "out of memory");
                break;
            }
            m = g;
        }
        x = &m[n++];
        memset(x, 0, sizeof *x);
        jws(j);
        if (jstring(j, &x->key) != 0) {
            rc = -1;
            break;
        }
        if (x->key.p == NULL)
            sb_add(&x->key, "", 0);
        jws(j);
        if (j->s >= j->end || *j->s != ':') {
            rc = jfail(j, "expected ':'");
            break;
        }
        j->s++;
        jws(j);
        before = j->s;
        if (on_key != NULL && on_key(ctx, x->key.p, j) != 0) {
            rc = -1;
            break;
        }
        j->s = before;
        if (jvalue(j, &x->value, depth + 1) != 0) {
            rc = -1;
            break;
        }
        jws(j);
        if (j->s < j->end && *j->s == ',') {
            j->s++;
            continue;
        }
        if (j->s < j->end && *j->s == '}') {
            j->s++;
            break;
        }
        rc = jfail(j, "expected ',' or '}'");
        break;
    }
    if (rc == 0 && canon != NULL) {
        qsort(m, n, sizeof *m, cmp_member);
        sb_str(canon, "{");
        for (i = 0; i < n; i++) {
            if (i)
                sb_str(canon, ",");
            sb_json_string(canon, m[i].key.p, m[i].key.len);
            sb_str(canon, ":");
            sb_add(canon, m[i].value.p ? m[i].value.p : "", m[i].value.len);
        }
        sb_str(canon, "}");
    }
    for (i = 0; i < n; i++) {
        free(m[i].key.p);
        free(m[i].value.p);
    }
    free(m);
    return rc;
}

static int jvalue(jparse *j, sbuf *canon, int depth) {
    jws(j);
    if (j->s >= j->end)
        return jfail(j, "expected a value");
    if (*j->s == '{')
        return jobject(j, canon, depth, NULL, NULL);
    if (*j->s == '"') {
        sbuf tmp = {0};
        int rc = jstring(j, &tmp);
        if (rc == 0 && canon)
            sb_json_string(canon, tmp.p ? tmp.p : "", tmp.len);
        free(tmp.p);
        return rc;
    }
    if (*j->s == '[') {
        int first = 1;
        j->s++;
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
    {
        static const char *const words[] = {"true", "false", "null"};
        size_t k;
        for (k = 0; k < 3; k++) {
            size_t n = strlen(words[k]);
            if ((size_t)(j->end - j->s) >= n && memcmp(j->s, words[k], n) == 0) {
                j->s += n;
                if (canon)
                    sb_str(canon, words[k]);
                return 0;
            }
        }
    }
    {
        char *endp;
        const char *start = j->s;
        double v;
        if (!(*j->s == '-' || (*j->s >= '0' && *j->s <= '9')))
            return jfail(j, "unexpected character");
        v = strtod(start, &endp);
        (void)v;
        if (endp == start || endp > j->end)
            return jfail(j, "bad number");
        j->s = endp;
        if (canon)
            sb_add(canon, start, (size_t)(endp - start));
        return 0;
    }
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

static int header_key(void *ctx, const char *key, jparse *j) {
    header *h = ctx;
    jparse sub = *j;
    sbuf *target = !strcmp(key, "schema")          ? &h->schema
                   : !strcmp(key, "artifact_type") ? &h->artifact
                   : !strcmp(key, "node_id")       ? &h->node
                   : !strcmp(key, "producer")      ? &h->producer
                                                   : NULL;
    if (target != NULL) {
        if (*sub.s != '"')
            return jfail(j, "header strings must be strings");
        return jstring(&sub, target) == 0 ? 0 : jfail(j, sub.err);
    }
    if (!strcmp(key, "created_at")) {
        char *endp;
        double v = strtod(sub.s, &endp);
        h->has_created = endp != sub.s;
        h->created_finite = h->has_created && isfinite(v);
        return 0;
    }
    if (!strcmp(key, "flags")) {
        h->flags_is_object = *sub.s == '{';
        if (h->flags_is_object)
            return jobject(&sub, &h->flags, 1, NULL, NULL) == 0 ? 0 : jfail(j, sub.err);
    }
    return 0;
}

/* Parses and checks a header line; message in *why on failure. */
static int header_parse(const char *line, size_t len, header *h, const char **why) {
    jparse j = {line, line + len, NULL};
    memset(h, 0, sizeof *h);
    jws(&j);
    if (jobject(&j, NULL, 0, header_key, h) != 0) {
        *why = j.err;
        return -1;
    }
    if (h->schema.p == NULL || strcmp(h->schema.p, MCRX_JSONL_SCHEMA) != 0)
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

static int row_key(void *ctx, const char *key, jparse *j) {
    static const char *const forbidden[] = {"schema", "artifact_type", "node_id", "producer",
                                            "flags"};
    size_t i;
    (void)ctx;
    for (i = 0; i < 5; i++)
        if (!strcmp(key, forbidden[i]))
            return jfail(j, "a sample row carries a header key");
    return 0;
}

static int row_check(const char *line, size_t len, const char **why) {
    jparse j = {line, line + len, NULL};
    jws(&j);
    if (jobject(&j, NULL, 0, row_key, NULL) != 0) {
        *why = j.err;
        return -1;
    }
    jws(&j);
    if (j.s != j.end) {
        *why = "trailing characters after the object";
        return -1;
    }
    return 0;
}

/* ---- files ------------------------------------------------------------------------------ */

static char *slurp(int fd, size_t *len) {
    sbuf b = {0};
    char chunk[65536];
    ssize_t r;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return NULL;
    while ((r = read(fd, chunk, sizeof chunk)) > 0)
        sb_add(&b, chunk, (size_t)r);
    if (r < 0 || b.oom) {
        free(b.p);
        return NULL;
    }
    if (b.p == NULL)
        sb_add(&b, "", 0);
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

static mcrx_error invalid(const char *path, int line, const char *why) {
    mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "%s line %d: %s", path, line,
                  why);
    return MCRX_ERROR_INVALID_ARGUMENT;
}

mcrx_error mcrx_jsonl_validate_file(const char *path) {
    int fd, line = 0, header_seen = 0;
    size_t len;
    char *text;
    const char *p, *end;
    mcrx_error rc = MCRX_ERROR_NONE;
    if (path == NULL)
        return MCRX_ERROR_INVALID_ARGUMENT;
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
        line++;
        while (q < p + n && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < p + n) {
            if (!header_seen) {
                header h;
                if (header_parse(p, n, &h, &why) != 0)
                    rc = invalid(path, line, why ? why : "bad header");
                header_free(&h);
                header_seen = 1;
            } else if (row_check(p, n, &why) != 0) {
                rc = invalid(path, line, why ? why : "bad row");
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == MCRX_ERROR_NONE && !header_seen)
        rc = invalid(path, 1, "no header");
    free(text);
    return rc;
}

void mcrx_jsonl_infer_node_id(const char *path, char *buf, size_t len) {
    char tmp[4096];
    char *slash, *dot, *base;
    snprintf(tmp, sizeof tmp, "%s", path ? path : "");
    slash = strrchr(tmp, '/');
    if (slash != NULL) {
        *slash = '\0';
        base = strrchr(tmp, '/');
        base = base ? base + 1 : tmp;
        if (*base != '\0' && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) {
            snprintf(buf, len, "%s", base);
            return;
        }
        base = slash + 1;
    } else {
        base = tmp;
    }
    /* the file stem */
    snprintf(tmp, sizeof tmp, "%s", path + (base - tmp));
    dot = strrchr(tmp, '.');
    if (dot != NULL && dot != tmp)
        *dot = '\0';
    snprintf(buf, len, "%s", tmp[0] ? tmp : "unknown");
}

struct McrxJsonlWriter {
    int fd;
    char path[4096];
};

static int mkdirs(const char *path) {
    char tmp[4096];
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

mcrx_error mcrx_jsonl_writer_open(const char *path, const char *artifact_type,
                                  const char *node_id, const char *producer,
                                  const char *flags_json, mcrx_jsonl_writer **out) {
    mcrx_jsonl_writer *w;
    sbuf flags = {0}, hdr = {0};
    jparse j;
    char *text;
    size_t len, n;
    const char *line;
    mcrx_error rc = MCRX_ERROR_NONE;

    if (path == NULL || artifact_type == NULL || node_id == NULL || producer == NULL ||
        out == NULL || !*artifact_type || !*node_id || !*producer) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "path, and non-empty artifact_type, node_id and producer are required");
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    if (flags_json == NULL)
        flags_json = "{}";
    j.s = flags_json;
    j.end = flags_json + strlen(flags_json);
    j.err = NULL;
    jws(&j);
    if (jobject(&j, &flags, 0, NULL, NULL) != 0 || (jws(&j), j.s != j.end)) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "flags must be a JSON object: %s", j.err ? j.err : "trailing characters");
        free(flags.p);
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        free(flags.p);
        return MCRX_ERROR_OUT_OF_MEMORY;
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
        if (header_parse(line, n, &h, &why) != 0)
            rc = invalid(path, 1, why ? why : "bad header");
        else if (strcmp(h.artifact.p, artifact_type) || strcmp(h.node.p, node_id) ||
                 strcmp(h.producer.p, producer) || strcmp(h.flags.p, flags.p))
            rc = invalid(path, 1,
                         "the existing header differs (artifact_type, node_id, producer or flags)");
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
        rc = hdr.oom ? MCRX_ERROR_OUT_OF_MEMORY : write_all(w, hdr.p, hdr.len);
    }
    free(text);
    free(hdr.p);
    if (rc != MCRX_ERROR_NONE)
        goto fail_fd;
    free(flags.p);
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
    rc = row->oom ? MCRX_ERROR_OUT_OF_MEMORY : write_all(w, row->p, row->len);
    free(row->p);
    return rc;
}

mcrx_error mcrx_jsonl_write_network(mcrx_jsonl_writer *w, const mcrx_context_metrics *m,
                                    const mcrx_metrics_delta *d) {
    sbuf b = {0};
    if (w == NULL || m == NULL || d == NULL)
        return MCRX_ERROR_INVALID_ARGUMENT;
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
        return MCRX_ERROR_INVALID_ARGUMENT;
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

mcrx_error mcrx_jsonl_merge_flags(const char *base, const char *extra, char *out, size_t len) {
    sbuf a = {0}, b = {0}, m = {0};
    jparse ja, jb;
    mcrx_error rc = MCRX_ERROR_NONE;
    if (base == NULL || extra == NULL || out == NULL)
        return MCRX_ERROR_INVALID_ARGUMENT;
    ja.s = base, ja.end = base + strlen(base), ja.err = NULL;
    jb.s = extra, jb.end = extra + strlen(extra), jb.err = NULL;
    jws(&ja);
    jws(&jb);
    if (jobject(&ja, &a, 0, NULL, NULL) != 0 || jobject(&jb, &b, 0, NULL, NULL) != 0) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "flags must be JSON objects: %s", ja.err ? ja.err : jb.err);
        rc = MCRX_ERROR_INVALID_ARGUMENT;
    } else {
        /* Concatenate the members, extra's only where base lacks the key:
         * re-parse both canonical forms and keep the first of each key. */
        const char *texts[2] = {a.p, b.p};
        char **keys = NULL;
        size_t nkeys = 0, t;
        sb_str(&m, "{");
        for (t = 0; t < 2 && rc == MCRX_ERROR_NONE; t++) {
            jparse j = {texts[t] + 1, texts[t] + strlen(texts[t]) - 1, NULL};
            while (j.s < j.end) {
                sbuf key = {0}, val = {0};
                size_t k;
                int seen = 0;
                jstring(&j, &key);
                j.s++; /* ':' */
                jvalue(&j, &val, 1);
                if (j.s < j.end && *j.s == ',')
                    j.s++;
                for (k = 0; k < nkeys; k++)
                    seen |= !strcmp(keys[k], key.p ? key.p : "");
                if (!seen) {
                    char **g = realloc(keys, (nkeys + 1) * sizeof *keys);
                    if (g == NULL) {
                        rc = MCRX_ERROR_OUT_OF_MEMORY;
                        free(key.p);
                        free(val.p);
                        break;
                    }
                    keys = g;
                    keys[nkeys++] = key.p ? key.p : strdup("");
                    if (m.len > 1)
                        sb_str(&m, ",");
                    sb_json_string(&m, keys[nkeys - 1], strlen(keys[nkeys - 1]));
                    sb_str(&m, ":");
                    sb_add(&m, val.p ? val.p : "null", val.p ? val.len : 4);
                } else {
                    free(key.p);
                }
                free(val.p);
            }
        }
        sb_str(&m, "}");
        while (nkeys > 0)
            free(keys[--nkeys]);
        free(keys);
        if (rc == MCRX_ERROR_NONE) {
            /* canonical (sorted) form of the merged object */
            sbuf c = {0};
            jparse j = {m.p, m.p + m.len, NULL};
            if (jobject(&j, &c, 0, NULL, NULL) != 0 || c.oom || c.len + 1 > len)
                rc = MCRX_ERROR_INVALID_ARGUMENT;
            else
                memcpy(out, c.p, c.len + 1);
            free(c.p);
        }
    }
    free(a.p);
    free(b.p);
    free(m.p);
    return rc;
}
