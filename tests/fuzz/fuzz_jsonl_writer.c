/*
 * The writer on any header strings and flags: fields artifact_type, node_id,
 * producer and flags_json separated by NUL, and the last 8 bytes as a double
 * for every float of a row. Whatever it accepts must give a file that
 * validates, reopens with the same header, and carries the double exactly.
 * Also mcrx_jsonl_infer_node_id on the whole input as a path.
 */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include <mcrx/jsonl.h>

#include "fuzz.h"

/* The value after "key": in the file's second line, as the text it is. */
static const char *row_value(const char *text, const char *key, char *buf, size_t len) {
    const char *row = strchr(text, '\n'), *v, *end;
    size_t n;
    FUZZ_CHECK(row != NULL);
    v = strstr(row, key);
    FUZZ_CHECK(v != NULL);
    v += strlen(key);
    end = v + strcspn(v, ",}");
    n = (size_t)(end - v);
    FUZZ_CHECK(n < len);
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    char *s = malloc(1 << 20);
    size_t n;
    FUZZ_CHECK(f != NULL && s != NULL);
    n = fread(s, 1, (1 << 20) - 1, f);
    fclose(f);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_file("w.jsonl");
    char *f[4] = {NULL, NULL, NULL, NULL}, *buf, *whole, node[32], num[64];
    mcrx_jsonl_writer *w = NULL, *w2 = NULL;
    mcrx_hardware_delta d;
    double v = 0;
    mcrx_error e;

    whole = fuzz_cstr(data, size);
    mcrx_jsonl_infer_node_id(whole, node, sizeof node);
    FUZZ_CHECK(strlen(node) > 0 && strlen(node) < sizeof node);
    free(whole);

    if (size >= 8)
        memcpy(&v, data + size - 8, 8);
    fuzz_fields(data, size >= 8 ? size - 8 : size, f, 4, &buf);
    unlink(path);
    e = mcrx_jsonl_writer_open(path, f[0], f[1] ? f[1] : "n", f[2] ? f[2] : "p", f[3], &w);
    if (e != MCRX_ERROR_NONE) {
        fuzz_check_failure(e);
        FUZZ_CHECK(w == NULL);
        free(buf);
        return 0;
    }
    memset(&d, 0, sizeof d);
    d.ts = d.interval_secs = d.cpu_user_secs = d.cpu_system_secs = d.cpu_total_secs =
        d.cpu_util_percent = v;
    FUZZ_CHECK(mcrx_jsonl_write_hardware(w, &d) == MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w);
    FUZZ_CHECK(mcrx_jsonl_validate_file(path) == MCRX_ERROR_NONE);
    /* The header it wrote reads back equal: the same arguments reopen it. */
    FUZZ_CHECK(mcrx_jsonl_writer_open(path, f[0], f[1] ? f[1] : "n", f[2] ? f[2] : "p", f[3],
                                      &w2) == MCRX_ERROR_NONE);
    mcrx_jsonl_writer_close(w2);
    {
        char *text = read_all(path);
        row_value(text, "\"cpu_util_percent\":", num, sizeof num);
        if (isfinite(v))
            FUZZ_CHECK(strtod(num, NULL) == v); /* shortest digits, still exact */
        else
            FUZZ_CHECK(strcmp(num, "null") == 0);
        free(text);
    }
    free(buf);
    return 0;
}
