/*
 * Files, for the JSONL writer (src/jsonl.c): the few file operations C's
 * stdio lacks (creating directories, an exclusive lock that a second writer
 * sees at once) and those it needs to be exact about (append-only writes on
 * a file it also reads). A port supplies these; linux_fs.c is the POSIX one.
 *
 * Convention, as for the rest of the platform contract: a function that can
 * fail returns MCRX_ERROR_NONE or the failure's kind, having filled *err with
 * the kind, the OS error number and a "MCRX: " message naming the path.
 */
#ifndef MCRX_PLATFORM_FS_H
#define MCRX_PLATFORM_FS_H

#include <stddef.h>

#include "mcrx/mcrx.h"

struct mcrx__err;

/* A file open for reading and appending, locked against other writers. */
typedef struct mcrx__file mcrx__file;

/* Creates the missing parent directories of path (not path itself).
 * Errors: IO_FAILED. */
mcrx_error mcrx__fs_make_parents(const char *path, struct mcrx__err *err);

/*
 * Opens path for reading and appending, creating it when missing, and takes
 * an exclusive advisory lock on it that lasts until mcrx__fs_close. Every
 * write goes to the end of the file. Errors: BUSY (another writer holds the
 * lock), IO_FAILED, OUT_OF_MEMORY.
 */
mcrx_error mcrx__fs_open_locked(const char *path, mcrx__file **out, struct mcrx__err *err);

/* The whole file from its start into *text (malloc'ed, NUL-terminated, the
 * caller frees it) and its length into *len. Errors: IO_FAILED. */
mcrx_error mcrx__fs_read_all(mcrx__file *f, char **text, size_t *len, struct mcrx__err *err);

/* Appends n bytes, all of them. Errors: IO_FAILED. */
mcrx_error mcrx__fs_append(mcrx__file *f, const void *data, size_t n, struct mcrx__err *err);

/* Closes the file, releasing its lock. NULL is a no-op. */
void mcrx__fs_close(mcrx__file *f);

#endif
