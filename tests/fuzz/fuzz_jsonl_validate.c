/*
 * A heimdall-jsonl-v1 file with any contents: mcrx_jsonl_validate_file, and a
 * writer opened on it (it reads the existing header before appending).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <mcrx/jsonl.h>

#include "fuzz.h"

static void put_file(const char *path, const uint8_t *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_file("in.jsonl");
    mcrx_jsonl_writer *w = NULL;
    mcrx_error e;
    put_file(path, data, size);
    e = mcrx_jsonl_validate_file(path);
    if (e != MCRX_ERROR_NONE)
        fuzz_check_failure(e);
    /* The writer reads the same header; on a file it accepts, its rows must
     * leave the file as valid as it found it. */
    e = mcrx_jsonl_writer_open(path, "a", "n", "p", "{}", &w);
    if (e != MCRX_ERROR_NONE) {
        fuzz_check_failure(e);
        FUZZ_CHECK(w == NULL);
    } else {
        mcrx_hardware_delta d;
        int was_valid = mcrx_jsonl_validate_file(path) == MCRX_ERROR_NONE;
        memset(&d, 0, sizeof d);
        FUZZ_CHECK(mcrx_jsonl_write_hardware(w, &d) == MCRX_ERROR_NONE);
        mcrx_jsonl_writer_close(w);
        FUZZ_CHECK(!was_valid || mcrx_jsonl_validate_file(path) == MCRX_ERROR_NONE);
    }
    return 0;
}
