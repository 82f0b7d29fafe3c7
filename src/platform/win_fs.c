/* The JSONL writer's files on Windows (fs.h): directories, an exclusive lock
 * a second writer sees at once (LockFileEx), appends. */
#include "win_common.h"

#include <stdio.h>
#include <string.h>

#include "fs.h"

struct mcrx__file {
    HANDLE h;
    char path[];
};

static mcrx_error fs_fail(mcrx__err *err, DWORD e, const char *what, const char *path) {
    char text[160];
    return mcrx__fail(err, MCRX_ERROR_IO_FAILED, (int)e, "%s %s: %s", what, path,
                      mcrx__os_error_text((int)e, text, sizeof text));
}

mcrx_error mcrx__fs_make_parents(const char *path, mcrx__err *err) {
    char tmp[1024];
    size_t i, n = strlen(path);
    if (n >= sizeof tmp)
        return mcrx__fail(err, MCRX_ERROR_IO_FAILED, 0, "path too long: %s", path);
    memcpy(tmp, path, n + 1);
    /* Every separator after the first character ends a parent. */
    for (i = 1; i < n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\\')
            continue;
        if (tmp[i - 1] == ':')
            continue; /* "C:\" is a drive, not a directory to make */
        tmp[i] = '\0';
        if (!CreateDirectoryA(tmp, NULL) && GetLastError() != ERROR_ALREADY_EXISTS)
            return fs_fail(err, GetLastError(), "cannot create the directories of", path);
        tmp[i] = path[i];
    }
    return 0;
}

mcrx_error mcrx__fs_open_locked(const char *path, mcrx__file **out, mcrx__err *err) {
    size_t n = strlen(path);
    OVERLAPPED whole;
    mcrx__file *f = malloc(sizeof *f + n + 1);
    if (f == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "writer");
    memcpy(f->path, path, n + 1);
    f->h = CreateFileA(path, GENERIC_READ | FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE,
                       NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (f->h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        free(f);
        return fs_fail(err, e, "cannot open", path);
    }
    memset(&whole, 0, sizeof whole);
    if (!LockFileEx(f->h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD,
                    MAXDWORD, &whole)) {
        DWORD e = GetLastError();
        CloseHandle(f->h);
        free(f);
        if (e == ERROR_LOCK_VIOLATION)
            return mcrx__fail(err, MCRX_ERROR_BUSY, (int)e, "%s is locked by another writer",
                              path);
        return fs_fail(err, e, "cannot lock", path);
    }
    *out = f;
    return 0;
}

mcrx_error mcrx__fs_read_all(mcrx__file *f, char **text, size_t *len, mcrx__err *err) {
    LARGE_INTEGER size;
    char *buf;
    size_t got = 0;
    if (!GetFileSizeEx(f->h, &size))
        return fs_fail(err, GetLastError(), "cannot read", f->path);
    buf = malloc((size_t)size.QuadPart + 1);
    if (buf == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "reading %s", f->path);
    while (got < (size_t)size.QuadPart) {
        OVERLAPPED at;
        DWORD r = 0;
        memset(&at, 0, sizeof at);
        at.Offset = (DWORD)got;
        at.OffsetHigh = (DWORD)((uint64_t)got >> 32);
        if (!ReadFile(f->h, buf + got, (DWORD)((size_t)size.QuadPart - got), &r, &at) || r == 0)
            break;
        got += r;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

mcrx_error mcrx__fs_append(mcrx__file *f, const void *data, size_t n, mcrx__err *err) {
    const char *p = data;
    while (n > 0) {
        DWORD w = 0;
        /* FILE_APPEND_DATA without FILE_WRITE_DATA: every write goes to the end. */
        if (!WriteFile(f->h, p, (DWORD)(n > 1u << 30 ? 1u << 30 : n), &w, NULL))
            return fs_fail(err, GetLastError(), "cannot write", f->path);
        p += w;
        n -= w;
    }
    return 0;
}

void mcrx__fs_close(mcrx__file *f) {
    if (f == NULL)
        return;
    CloseHandle(f->h);
    free(f);
}
