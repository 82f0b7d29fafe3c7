/* POSIX files for the JSONL writer: mkdir, open with O_APPEND, flock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"
#include "fs.h"

struct mcrx__file {
    int fd;
    char path[]; /* for messages */
};

static mcrx_error fs_fail(mcrx__err *err, int e, const char *what, const char *path) {
    char text[128];
    return mcrx__fail(err, MCRX_ERROR_IO_FAILED, e, "%s %s: %s", what, path,
                      mcrx__os_error_text(e, text, sizeof text));
}

mcrx_error mcrx__fs_make_parents(const char *path, mcrx__err *err) {
    char *tmp = strdup(path), *p;
    int e = 0;
    if (tmp == NULL)
        return fs_fail(err, ENOMEM, "cannot create the directories of", path);
    p = strrchr(tmp, '/');
    if (p != NULL && p != tmp) {
        *p = '\0';
        /* Each prefix in turn; one that exists already is fine. */
        for (p = tmp + 1;; p++) {
            if (*p == '/' || *p == '\0') {
                char c = *p;
                *p = '\0';
                if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
                    e = errno;
                    break;
                }
                *p = c;
                if (c == '\0')
                    break;
            }
        }
    }
    free(tmp);
    return e ? fs_fail(err, e, "cannot create the directories of", path) : MCRX_ERROR_NONE;
}

mcrx_error mcrx__fs_open_locked(const char *path, mcrx__file **out, mcrx__err *err) {
    size_t n = strlen(path);
    mcrx__file *f = malloc(sizeof *f + n + 1);
    *out = NULL;
    if (f == NULL) {
        mcrx__err_set(err, MCRX_ERROR_OUT_OF_MEMORY, ENOMEM, "writer");
        return MCRX_ERROR_OUT_OF_MEMORY;
    }
    memcpy(f->path, path, n + 1);
    f->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        int e = errno;
        free(f);
        return fs_fail(err, e, "cannot open", path);
    }
    if (flock(f->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f->fd);
        free(f);
        if (e == EWOULDBLOCK) {
            mcrx__err_set(err, MCRX_ERROR_BUSY, e, "%s is locked by another writer", path);
            return MCRX_ERROR_BUSY;
        }
        return fs_fail(err, e, "cannot lock", path);
    }
    *out = f;
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx__fs_read_all(mcrx__file *f, char **text, size_t *len, mcrx__err *err) {
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *text = NULL;
    *len = 0;
    for (;;) {
        ssize_t r;
        if (cap - n < 65536) {
            char *g = realloc(buf, cap + 65536 + 1);
            if (g == NULL) {
                free(buf);
                return fs_fail(err, ENOMEM, "cannot read", f->path);
            }
            buf = g;
            cap += 65536;
        }
        r = pread(f->fd, buf + n, cap - n, (off_t)n);
        if (r == 0)
            break;
        if (r < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            free(buf);
            return fs_fail(err, e, "cannot read", f->path);
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return MCRX_ERROR_NONE;
}

mcrx_error mcrx__fs_append(mcrx__file *f, const void *data, size_t n, mcrx__err *err) {
    const char *s = data;
    while (n > 0) {
        ssize_t r = write(f->fd, s, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fs_fail(err, errno, "cannot write", f->path);
        }
        s += r;
        n -= (size_t)r;
    }
    return MCRX_ERROR_NONE;
}

void mcrx__fs_close(mcrx__file *f) {
    if (f == NULL)
        return;
    close(f->fd); /* releases the lock */
    free(f);
}
