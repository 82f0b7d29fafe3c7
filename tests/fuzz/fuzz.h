/*
 * Shared by the fuzz targets: the libFuzzer entry point (also driven by
 * replay.c, which runs the committed corpus under ctest) and the checks every
 * target makes on a failure.
 */
#ifndef MCRX_FUZZ_H
#define MCRX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcrx/mcrx.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the library broke: crash loudly, for libFuzzer and ctest alike. */
#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond))                                                                          \
            abort();                                                                          \
    } while (0)

/* A failed call without a handle left its kind and a "MCRX: " message. */
static inline void fuzz_check_failure(mcrx_error e) {
    const char *msg = mcrx_last_error();
    FUZZ_CHECK(e != MCRX_ERROR_NONE);
    FUZZ_CHECK(mcrx_last_error_code() == e);
    FUZZ_CHECK(strncmp(msg, "MCRX: ", 6) == 0 && msg[6] != '\0');
}

/* The input as a NUL-terminated string (free it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits the input at NUL bytes into at most max NUL-terminated fields, which
 * point into one copy (*buf, free it). Returns the number of fields. */
static inline size_t fuzz_fields(const uint8_t *data, size_t size, char **fields, size_t max,
                                 char **buf) {
    size_t n = 0, i;
    char *s = fuzz_cstr(data, size);
    *buf = s;
    fields[n++] = s;
    for (i = 0; i < size && n < max; i++)
        if (s[i] == '\0')
            fields[n++] = s + i + 1;
    return n;
}

/* The directory and file of fuzz_temp_file (one per target). */
static inline char *fuzz_temp_(int file) {
    static char dir[64], path[128];
    return file ? path : dir;
}

static inline void fuzz_temp_remove_(void) {
    unlink(fuzz_temp_(1));
    rmdir(fuzz_temp_(0));
}

/* A file of the given name in a private directory (on tmpfs when there is
 * one: it is rewritten on every run), removed with it at exit. */
static inline const char *fuzz_temp_file(const char *name) {
    char *dir = fuzz_temp_(0), *path = fuzz_temp_(1);
    if (dir[0] == '\0') {
        atexit(fuzz_temp_remove_);
        snprintf(dir, 64, "%s/mcrx-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, 128, "%s/%s", dir, name);
    }
    return path;
}

#endif
