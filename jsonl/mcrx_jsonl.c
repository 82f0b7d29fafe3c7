/*
 * Reading heimdall-jsonl-v1 files and merging flags objects, on jansson.
 *
 * jansson does the parsing: grammar, escapes, UTF-8 (no overlong forms, no
 * encoded surrogates), repeated keys (JSON_REJECT_DUPLICATES), numbers that
 * overflow a double, anything after the value. scan() below adds what the
 * files' rules (<mcrx/metrics.h>) ask beyond that, in one pass before
 * jansson sees the text:
 *  - nesting deeper than MCRX_JSONL_MAX_DEPTH is refused before any
 *    recursion (jansson's own limit is 2048);
 *  - a lone surrogate and a leading zero get the reason they had before
 *    (jansson says only "invalid Unicode" and "invalid token");
 *  - the text of every number, in document order: merge writes numbers as
 *    they were written, and jansson keeps only their double;
 *  - object keys holding \u0000, which jansson refuses and serde_json
 *    accepts, are handed to jansson re-escaped (see rewrite_keys).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcrx/jsonl.h>
#include <mcrx/metrics.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* Repeated keys are errors (a file must mean one thing to every reader);
 * integers are read as doubles, as serde_json reads any integer that fits a
 * double while jansson's integers stop at 2^63; \u0000 is text in strings.
 * The end-of-input check stays on: nothing may follow the object. */
#define READ_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* ---- errors: into the core's per-thread slot ---------------------------------------- */

static mcrx_error fail(mcrx_error kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static mcrx_error fail(mcrx_error kind, const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mcrx_last_error_set(kind, msg);
}

/* Why a text was refused: a reason, or memory. */
typedef struct reason {
    char text[JSON_ERROR_TEXT_LENGTH + 64];
    int oom;
} reason;

static int refuse(reason *r, const char *why) {
    snprintf(r->text, sizeof r->text, "%s", why);
    return -1;
}

static int refuse_oom(reason *r) {
    r->oom = 1;
    return refuse(r, "out of memory");
}

/* ---- a growable string ---------------------------------------------------------------- */

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

/* A JSON string literal, escaped as serde_json escapes it (as the core's
 * writer does: merged flags go into headers). */
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

/* ---- the pass before jansson ---------------------------------------------------------- */

/* The text of one number in the source. */
typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The 4 hex digits at s[i..i+3] (i + 4 <= n), or -1. */
static long hex4(const char *s, size_t n, size_t i) {
    long v = 0;
    size_t k;
    if (i + 4 > n)
        return -1;
    for (k = i; k < i + 4; k++) {
        char h = s[k];
        v <<= 4;
        if (is_digit(h))
            v |= h - '0';
        else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
            v |= (h | 0x20) - 'a' + 10;
        else
            return -1;
    }
    return v;
}

/* 1 if the string ending before s[e] (its closing quote at e - 1) is a key:
 * the next character after whitespace is ':'. */
static int is_key(const char *s, size_t n, size_t e) {
    while (e < n && is_ws(s[e]))
        e++;
    return e < n && s[e] == ':';
}

/*
 * The string starting at s[i] (a quote): returns the index after its
 * closing quote (n when unterminated: jansson says so). Refuses lone
 * surrogates; *low is set when a \u0000 or \u0001 escape occurs.
 */
static int scan_string(const char *s, size_t n, size_t *i, int *low, reason *r) {
    size_t k = *i + 1;
    *low = 0;
    while (k < n && s[k] != '"') {
        long cp;
        if (s[k] != '\\') {
            k++;
            continue;
        }
        if (k + 1 >= n || s[k + 1] != 'u' || (cp = hex4(s, n, k + 2)) < 0) {
            k += 2; /* any other escape, good or bad: jansson judges it */
            continue;
        }
        k += 6;
        if (cp <= 1)
            *low = 1;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return refuse(r, "lone surrogate in a \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* UTF-8 has no encoding for half a pair: only a whole pair is text. */
            long lo = k + 1 < n && s[k] == '\\' && s[k + 1] == 'u' ? hex4(s, n, k + 2) : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return refuse(r, "lone surrogate in a \\u escape");
            k += 6;
        }
    }
    *i = k < n ? k + 1 : n;
    return 0;
}

/*
 * One pass over a text before jansson reads it: nesting depth, leading
 * zeros, lone surrogates; the text of each number appended to nums (when
 * not NULL); *rewrite set when a key holds \u0000 or \u0001.
 */
static int scan(const char *s, size_t n, spans *nums, int *rewrite, reason *r) {
    size_t i = 0;
    int depth = 0;
    *rewrite = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            int low;
            if (scan_string(s, n, &i, &low, r) != 0)
                return -1;
            if (low && is_key(s, n, i))
                *rewrite = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > MCRX_JSONL_MAX_DEPTH)
                return refuse(r, "arrays and objects nest deeper than " STR(MCRX_JSONL_MAX_DEPTH)
                                 " levels");
            i++;
        } else if (c == '}' || c == ']') {
            depth -= depth > 0;
            i++;
        } else if (c == '-' || is_digit(c)) {
            size_t start = i;
            i += c == '-';
            if (i + 1 < n && s[i] == '0' && is_digit(s[i + 1]))
                return refuse(r, "leading zero in a number");
            while (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                             s[i] == '+' || s[i] == '-'))
                i++;
            if (nums != NULL) {
                if (nums->n == nums->cap) {
                    size_t cap = nums->cap ? nums->cap * 2 : 16;
                    span *g = realloc(nums->v, cap * sizeof *g);
                    if (g == NULL)
                        return refuse_oom(r);
                    nums->v = g;
                    nums->cap = cap;
                }
                nums->v[nums->n].p = s + start;
                nums->v[nums->n++].n = i - start;
            }
        } else {
            i++;
        }
    }
    return 0;
}

/*
 * jansson refuses NUL in object keys. Keys are handed to it with \u0000
 * written as \u0001\u0001 and \u0001 as \u0001\u0002 (a raw U+0001 cannot
 * occur: it is a control character), and decode_key undoes that. The code
 * is one-to-one, so repeated keys stay repeated, and it keeps the byte order
 * of keys, so sorting encoded keys sorts the keys.
 */
static void rewrite_keys(const char *s, size_t n, sbuf *out) {
    size_t i = 0;
    while (i < n) {
        size_t start = i, k;
        if (s[i] != '"') {
            sb_add(out, &s[i++], 1);
            continue;
        }
        for (k = i + 1; k < n && s[k] != '"'; k += s[k] == '\\' ? 2 : 1)
            ;
        i = k < n ? k + 1 : n;
        if (!is_key(s, n, i)) {
            sb_add(out, s + start, i - start);
            continue;
        }
        for (k = start; k < i;) {
            if (s[k] == '\\' && k + 5 < i && memcmp(s + k + 1, "u000", 4) == 0 &&
                (s[k + 5] == '0' || s[k + 5] == '1')) {
                sb_str(out, s[k + 5] == '0' ? "\\u0001\\u0001" : "\\u0001\\u0002");
                k += 6;
            } else if (s[k] == '\\' && k + 1 < i) {
                sb_add(out, s + k, 2);
                k += 2;
            } else {
                sb_add(out, s + k++, 1);
            }
        }
    }
}

static void decode_key(sbuf *out, const char *k, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        char c = k[i];
        if (c == '\x01' && i + 1 < n) {
            c = k[i + 1] == '\x01' ? '\0' : '\x01';
            i++;
        }
        sb_add(out, &c, 1);
    }
}

/* ---- reading one object --------------------------------------------------------------- */

/* Our words for jansson's failures where the rules name them; its own else. */
static int jansson_reason(const json_error_t *e, reason *r) {
    if (e->text[0] == '\0')
        return refuse_oom(r); /* jansson fails without a message only on memory */
    switch (json_error_code(e)) {
    case json_error_out_of_memory: return refuse_oom(r);
    case json_error_invalid_utf8: return refuse(r, "a string is not valid UTF-8");
    case json_error_numeric_overflow: return refuse(r, "number out of range");
    case json_error_end_of_input_expected: return refuse(r, "trailing characters after the object");
    case json_error_duplicate_key: return refuse(r, "duplicate key in an object");
    default: return refuse(r, e->text);
    }
}

/*
 * Reads text (n bytes) that must be one object and nothing else but
 * whitespace into *out. With nums not NULL, each number in *out is replaced
 * by an integer: its index in nums, where scan() put its text.
 */
static int tag_numbers(json_t *v, size_t *next, size_t end, reason *r);

static int read_object(const char *text, size_t n, spans *nums, json_t **out, reason *r) {
    json_error_t e;
    sbuf copy = {0};
    size_t first = nums != NULL ? nums->n : 0, i = 0;
    int rewrite;
    *out = NULL;
    while (i < n && is_ws(text[i]))
        i++;
    if (i == n || text[i] != '{')
        return refuse(r, "expected an object");
    if (scan(text, n, nums, &rewrite, r) != 0)
        return -1;
    if (rewrite) {
        rewrite_keys(text, n, &copy);
        if (copy.oom) {
            free(copy.p);
            return refuse_oom(r);
        }
    }
    *out = json_loadb(rewrite ? copy.p : text, rewrite ? copy.len : n, READ_FLAGS, &e);
    free(copy.p);
    if (*out == NULL)
        return jansson_reason(&e, r);
    if (nums != NULL && tag_numbers(*out, &first, nums->n, r) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* Depth-first in document order (jansson keeps the order of keys), which is
 * the order scan() met the numbers in. */
static int tag_numbers(json_t *v, size_t *next, size_t end, reason *r) {
    if (json_is_object(v)) {
        void *it;
        for (it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
            json_t *x = json_object_iter_value(it);
            if (json_is_real(x)) {
                if (*next >= end)
                    return refuse(r, "numbers could not be matched to their text");
                if (json_object_iter_set_new(v, it, json_integer((json_int_t)*next)) != 0)
                    return refuse_oom(r);
                (*next)++;
            } else if (tag_numbers(x, next, end, r) != 0) {
                return -1;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        for (i = 0; i < json_array_size(v); i++) {
            json_t *x = json_array_get(v, i);
            if (json_is_real(x)) {
                if (*next >= end)
                    return refuse(r, "numbers could not be matched to their text");
                if (json_array_set_new(v, i, json_integer((json_int_t)*next)) != 0)
                    return refuse_oom(r);
                (*next)++;
            } else if (tag_numbers(x, next, end, r) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* ---- canonical form: compact, keys sorted, numbers as written -------------------------- */

typedef struct member {
    const char *key;
    size_t len;
    json_t *value;
} member;

static int cmp_member(const void *pa, const void *pb) {
    const member *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void write_value(sbuf *b, json_t *v, const spans *nums);

/* The n members (sorted here) as one object. */
static void write_members(sbuf *b, member *m, size_t n, const spans *nums) {
    size_t i;
    if (n > 1) /* qsort takes no NULL, even for nothing */
        qsort(m, n, sizeof *m, cmp_member);
    sb_str(b, "{");
    for (i = 0; i < n; i++) {
        sbuf key = {0};
        if (i)
            sb_str(b, ",");
        decode_key(&key, m[i].key, m[i].len);
        b->oom |= key.oom;
        sb_json_string(b, key.p ? key.p : "", key.len);
        free(key.p);
        sb_str(b, ":");
        write_value(b, m[i].value, nums);
    }
    sb_str(b, "}");
}

/* Appends o's members to *m (grown as needed), those of skip's keys left out. */
static void collect(member **m, size_t *n, size_t *cap, json_t *o, json_t *skip, sbuf *b) {
    const char *key;
    size_t len;
    json_t *v;
    json_object_keylen_foreach(o, key, len, v) {
        if (skip != NULL && json_object_getn(skip, key, len) != NULL)
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 8;
            member *g = realloc(*m, c * sizeof *g);
            if (g == NULL) {
                b->oom = 1;
                return;
            }
            *m = g;
            *cap = c;
        }
        (*m)[*n].key = key;
        (*m)[*n].len = len;
        (*m)[(*n)++].value = v;
    }
}

static void write_value(sbuf *b, json_t *v, const spans *nums) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        member *m = NULL;
        size_t n = 0, cap = 0;
        collect(&m, &n, &cap, v, NULL, b);
        if (!b->oom)
            write_members(b, m, n, nums);
        free(m);
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        sb_str(b, "[");
        for (i = 0; i < json_array_size(v); i++) {
            if (i)
                sb_str(b, ",");
            write_value(b, json_array_get(v, i), nums);
        }
        sb_str(b, "]");
        break;
    }
    case JSON_STRING: sb_json_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: { /* a number's index, from tag_numbers */
        const span *s = &nums->v[json_integer_value(v)];
        sb_add(b, s->p, s->n);
        break;
    }
    case JSON_TRUE: sb_str(b, "true"); break;
    case JSON_FALSE: sb_str(b, "false"); break;
    default: sb_str(b, "null"); break;
    }
}

/* ---- files ------------------------------------------------------------------------------ */

static const char *const header_keys[] = {"schema", "artifact_type", "node_id", "producer",
                                          "flags"};

/* The header's rules; NULL when o keeps them. */
static const char *header_why(json_t *o) {
    json_t *v;
    size_t i;
    for (i = 0; i < 4; i++) {
        v = json_object_get(o, header_keys[i]);
        if (v != NULL && !json_is_string(v))
            return "header strings must be strings";
    }
    v = json_object_get(o, "schema");
    if (v == NULL || json_string_length(v) != strlen(MCRX_JSONL_SCHEMA) ||
        memcmp(json_string_value(v), MCRX_JSONL_SCHEMA, strlen(MCRX_JSONL_SCHEMA)) != 0)
        return "schema is not " MCRX_JSONL_SCHEMA;
    for (i = 1; i < 4; i++) {
        v = json_object_get(o, header_keys[i]);
        if (v == NULL || json_string_length(v) == 0)
            return "artifact_type, node_id and producer must be non-empty strings";
    }
    /* A number that did not fit a double was refused while reading. */
    if (!json_is_number(json_object_get(o, "created_at")))
        return "created_at must be a finite number";
    if (!json_is_object(json_object_get(o, "flags")))
        return "flags must be an object";
    return NULL;
}

static int check_line(const char *line, size_t n, int header, reason *r) {
    json_t *o;
    const char *why = NULL;
    size_t i;
    if (read_object(line, n, NULL, &o, r) != 0)
        return -1;
    if (header)
        why = header_why(o);
    else
        for (i = 0; i < 5 && why == NULL; i++)
            if (json_object_get(o, header_keys[i]) != NULL)
                why = "a sample row carries a header key";
    json_decref(o);
    return why != NULL ? refuse(r, why) : 0;
}

/* The whole file into *text (NUL-terminated) and *len; IO_FAILED with errno. */
static mcrx_error slurp(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    sbuf b = {0};
    char chunk[65536];
    size_t got;
    int e;
    if (f == NULL) {
        e = errno;
        return fail(MCRX_ERROR_IO_FAILED, "cannot open %s: %s", path, strerror(e));
    }
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_add(&b, chunk, got);
    e = ferror(f) ? errno : b.oom ? ENOMEM : 0;
    fclose(f);
    if (e == 0 && b.p == NULL)
        sb_add(&b, "", 0);
    if (e == 0 && b.oom)
        e = ENOMEM;
    if (e != 0) {
        free(b.p);
        return fail(MCRX_ERROR_IO_FAILED, "cannot read %s: %s", path, strerror(e));
    }
    *text = b.p;
    *len = b.len;
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx_jsonl_validate_file(const char *path) {
    char *text;
    const char *p, *end;
    size_t len, line = 0;
    int header_seen = 0;
    mcrx_error rc;
    if (path == NULL)
        return fail(MCRX_ERROR_INVALID_ARGUMENT, "path is NULL");
    rc = slurp(path, &text, &len);
    if (rc != MCRX_ERROR_NONE)
        return rc;
    for (p = text, end = text + len; p < end && rc == MCRX_ERROR_NONE;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        const char *q = p;
        reason r = {"", 0};
        line++;
        while (q < p + n && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < p + n) {
            if (check_line(p, n, !header_seen, &r) != 0)
                rc = r.oom ? fail(MCRX_ERROR_OUT_OF_MEMORY, "%s line %zu", path, line)
                           : fail(MCRX_ERROR_INVALID_ARGUMENT, "%s line %zu: %s", path, line,
                                  r.text);
            header_seen = 1;
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == MCRX_ERROR_NONE && !header_seen)
        rc = fail(MCRX_ERROR_INVALID_ARGUMENT, "%s line 1: no header", path);
    free(text);
    if (rc == MCRX_ERROR_NONE)
        mcrx_last_error_set(MCRX_ERROR_NONE, NULL);
    return rc;
}

/* ---- merge ------------------------------------------------------------------------------ */

/* One flags argument of merge: a whole JSON object. */
static mcrx_error merge_arg(const char *name, const char *text, spans *nums, json_t **o) {
    reason r = {"", 0};
    if (read_object(text, strlen(text), nums, o, &r) == 0)
        return MCRX_ERROR_NONE;
    if (r.oom)
        return fail(MCRX_ERROR_OUT_OF_MEMORY, "%s", name);
    return fail(MCRX_ERROR_INVALID_ARGUMENT, "flags must be JSON objects: %s: %s", name, r.text);
}

mcrx_error mcrx_jsonl_merge_flags(const char *base, const char *extra, char *out, size_t len) {
    json_t *a = NULL, *b = NULL;
    spans nums = {0};
    member *m = NULL;
    size_t n = 0, cap = 0;
    sbuf s = {0};
    mcrx_error rc;
    if (out != NULL && len > 0)
        out[0] = '\0'; /* a caller that ignores the status still reads text */
    if (base == NULL || extra == NULL || out == NULL)
        return fail(MCRX_ERROR_INVALID_ARGUMENT, "base, extra and out are required");
    rc = merge_arg("base", base, &nums, &a);
    if (rc == MCRX_ERROR_NONE)
        rc = merge_arg("extra", extra, &nums, &b);
    if (rc == MCRX_ERROR_NONE) {
        collect(&m, &n, &cap, a, NULL, &s);
        collect(&m, &n, &cap, b, a, &s); /* keys of base win */
        if (!s.oom)
            write_members(&s, m, n, &nums);
        if (s.oom)
            rc = fail(MCRX_ERROR_OUT_OF_MEMORY, "merged flags");
        else if (s.len + 1 > len)
            rc = fail(MCRX_ERROR_INVALID_ARGUMENT, "out has %zu bytes, the merged flags need %zu",
                      len, s.len + 1);
        else
            memcpy(out, s.p, s.len + 1);
    }
    json_decref(a);
    json_decref(b);
    free(m);
    free(nums.v);
    free(s.p);
    if (rc == MCRX_ERROR_NONE)
        mcrx_last_error_set(MCRX_ERROR_NONE, NULL);
    return rc;
}
