/* Error kinds, messages and the per-handle / per-thread error slots. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const messages[] = {
#define MCRX_MSG_(name, msg) "MCRX: " msg,
    MCRX_ERROR_MAP(MCRX_MSG_)
#undef MCRX_MSG_
};

static const char *const names[] = {
#define MCRX_NAME_(name, msg) #name,
    MCRX_ERROR_MAP(MCRX_NAME_)
#undef MCRX_NAME_
};

const char *mcrx_error_message(int kind) {
    if (kind < 0 || kind >= MCRX_ERROR_COUNT_)
        return "MCRX: unknown error";
    return messages[kind];
}

const char *mcrx_error_name(int kind) {
    if (kind < 0 || kind >= MCRX_ERROR_COUNT_)
        return "UNKNOWN";
    return names[kind];
}

int mcrx__status_of(mcrx_error code) {
    switch (code) {
    case MCRX_ERROR_NONE:
        return MCRX_STATUS_OK;
    case MCRX_ERROR_INVALID_ARGUMENT:
    case MCRX_ERROR_INVALID_ADDRESS:
    case MCRX_ERROR_INVALID_INTERFACE:
        return MCRX_STATUS_INVALID_ARGUMENT;
    case MCRX_ERROR_ALREADY_RUNNING:
        return MCRX_STATUS_ALREADY_RUNNING;
    default:
        return MCRX_STATUS_ERROR;
    }
}

void mcrx__err_clear(mcrx__err *e) {
    e->code = MCRX_ERROR_NONE;
    e->os = 0;
    e->msg[0] = '\0';
}

static void vrecord(mcrx__err *e, mcrx_error code, int os, const char *fmt, va_list ap) {
    size_t n;
    e->code = code;
    e->os = os;
    n = (size_t)snprintf(e->msg, sizeof e->msg, "%s", mcrx_error_message(code));
    if (fmt != NULL && n < sizeof e->msg - 2) {
        e->msg[n++] = ':';
        e->msg[n++] = ' ';
        vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    }
}

int mcrx__err_set(mcrx__err *e, mcrx_error code, int os, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vrecord(e, code, os, fmt, ap);
    va_end(ap);
    return mcrx__status_of(code);
}

mcrx_error mcrx__fail(mcrx__err *e, mcrx_error code, int os, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vrecord(e, code, os, fmt, ap);
    va_end(ap);
    return code;
}

void mcrx__err_prefix(mcrx__err *e, const char *prefix) {
    char detail[sizeof e->msg];
    size_t head = strlen(mcrx_error_message(e->code));
    const char *rest = e->msg + head;
    if (strncmp(e->msg, mcrx_error_message(e->code), head) != 0)
        return; /* not a message of ours: leave it whole */
    if (rest[0] == ':' && rest[1] == ' ')
        rest += 2;
    snprintf(detail, sizeof detail, "%s", rest);
    if (detail[0] != '\0')
        snprintf(e->msg + head, sizeof e->msg - head, ": %s: %s", prefix, detail);
    else
        snprintf(e->msg + head, sizeof e->msg - head, ": %s", prefix);
}

int mcrx__err_copy(mcrx__err *dst, const mcrx__err *src) {
    if (dst != src)
        memcpy(dst, src, sizeof *dst);
    return mcrx__status_of(src->code);
}

static _Thread_local mcrx__err tls_err;

mcrx__err *mcrx__tls_err(void) {
    return &tls_err;
}

const char *mcrx_last_error(void) {
    return tls_err.msg;
}

mcrx_error mcrx_last_error_code(void) {
    return tls_err.code;
}

mcrx_error mcrx_last_error_set(mcrx_error kind, const char *detail) {
    if ((int)kind < 0 || kind >= MCRX_ERROR_COUNT_) {
        mcrx__err_set(&tls_err, MCRX_ERROR_INVALID_ARGUMENT, 0, "error kind %d does not exist",
                      (int)kind);
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    if (kind == MCRX_ERROR_NONE)
        mcrx__err_clear(&tls_err);
    else if (detail != NULL)
        mcrx__err_set(&tls_err, kind, 0, "%s", detail);
    else
        mcrx__err_set(&tls_err, kind, 0, NULL);
    return kind;
}
