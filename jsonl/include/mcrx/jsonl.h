/*
 * mcrx-core-jsonl: reads the "heimdall-jsonl-v1" files that mcrx-core's
 * writer writes (<mcrx/metrics.h>), and merges flags objects; the command-line
 * tools and the tests use it. A companion library with its own soname and
 * pkg-config file (mcrx-core-jsonl), built on jansson, so that the core
 * library reads no files and depends on nothing.
 *
 *   if (mcrx_jsonl_validate_file("net.jsonl") != MCRX_ERROR_NONE)
 *       fprintf(stderr, "%s\n", mcrx_last_error());
 *
 * What is accepted is what <mcrx/metrics.h> says above MCRX_JSONL_MAX_DEPTH,
 * the same rules the writer applies to flags_json: RFC 8259 as serde_json
 * reads it, no repeated keys, at most MCRX_JSONL_MAX_DEPTH levels of nesting.
 *
 * Errors follow the core's rule for functions without a handle: the kind is
 * returned and also left, with a message beginning "MCRX: " that names the
 * cause (and the line, for files), in the calling thread's slot that
 * mcrx_last_error_code() and mcrx_last_error() read; success clears it.
 * NULL pointer arguments return INVALID_ARGUMENT.
 *
 * Threading: both functions may run on any number of threads at once.
 */
#ifndef MCRX_JSONL_H
#define MCRX_JSONL_H

#include <stddef.h>

#include <mcrx/mcrx.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MCRX_JSONL_EXTERN
#  if defined(__GNUC__)
#    define MCRX_JSONL_EXTERN __attribute__((visibility("default")))
#  else
#    define MCRX_JSONL_EXTERN
#  endif
#endif

/*
 * Checks a whole file: a valid header first (schema, three non-empty strings,
 * finite created_at, flags an object), and rows that are objects without
 * header keys, each line read as described above. Errors: INVALID_ARGUMENT
 * (the reason and line in mcrx_last_error()), IO_FAILED, OUT_OF_MEMORY.
 */
MCRX_JSONL_EXTERN mcrx_error mcrx_jsonl_validate_file(const char *path);

/* Merges two JSON objects into out (compact, keys sorted, numbers as they
 * were written): keys of base win over keys of extra. Errors:
 * INVALID_ARGUMENT (not objects, or out too small: the message says how many
 * bytes it needs), OUT_OF_MEMORY. After a failure out holds "" (when
 * len > 0). */
MCRX_JSONL_EXTERN mcrx_error mcrx_jsonl_merge_flags(const char *base, const char *extra,
                                                    char *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif
