/*
 * mcrx_jsonl_merge_flags on any two texts (split at the first NUL), with an
 * output buffer of the size the last byte picks. What it accepts, it writes
 * in canonical form: merging that again changes nothing.
 */
#include <mcrx/jsonl.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *fields[2] = {NULL, NULL}, *buf, *out, *again;
    size_t len = size > 0 ? data[size - 1] : 0;
    mcrx_error e;
    if (len >= 200)
        len = 1 << 16; /* room enough for any input here */
    fuzz_fields(data, size, fields, 2, &buf);
    if (fields[1] == NULL)
        fields[1] = "{}";
    out = malloc(len ? len : 1);
    again = malloc((1 << 16) + 1);
    FUZZ_CHECK(out != NULL && again != NULL);
    e = mcrx_jsonl_merge_flags(fields[0], fields[1], len ? out : NULL, len);
    if (e != MCRX_ERROR_NONE) {
        fuzz_check_failure(e);
        FUZZ_CHECK(len == 0 || out[0] == '\0');
    } else {
        FUZZ_CHECK(strlen(out) < len);
        FUZZ_CHECK(mcrx_jsonl_merge_flags(out, "{}", again, (1 << 16) + 1) == MCRX_ERROR_NONE);
        FUZZ_CHECK(strcmp(out, again) == 0);
        FUZZ_CHECK(mcrx_jsonl_merge_flags("{}", out, again, (1 << 16) + 1) == MCRX_ERROR_NONE);
        FUZZ_CHECK(strcmp(out, again) == 0);
        FUZZ_CHECK(mcrx_jsonl_merge_flags(out, out, again, (1 << 16) + 1) == MCRX_ERROR_NONE);
        FUZZ_CHECK(strcmp(out, again) == 0);
    }
    free(out);
    free(again);
    free(buf);
    return 0;
}
