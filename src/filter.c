/* Filter states: what a membership accepts, as data the platform applies and
 * the receive path checks. Depends only on the address leaf. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mcrx__filter_none(mcrx__filter *f, const mcrx_ip *group) {
    f->group = *group;
    f->mode = MCRX__INCLUDE;
    f->nsources = 0;
    f->sources = NULL;
}

void mcrx__filter_of_config(mcrx__filter *f, const mcrx_subscription_config *cfg,
                            mcrx_ip *one) {
    mcrx__filter_none(f, &cfg->group);
    /* A version 1 config (an older caller's smaller struct) has no list. */
    if (cfg->version >= 2 && cfg->sources_mode != MCRX_SOURCES_NONE) {
        f->mode = cfg->sources_mode == MCRX_SOURCES_INCLUDE ? MCRX__INCLUDE : MCRX__EXCLUDE;
        f->sources = cfg->sources;
        f->nsources = cfg->nsources;
    } else if (cfg->source.family != MCRX_IP_NONE) {
        one[0] = cfg->source;
        one[0].scope_id = 0;
        f->sources = one;
        f->nsources = 1;
    } else {
        f->mode = MCRX__EXCLUDE;
    }
}

static int ip_order(const void *a, const void *b) {
    const mcrx_ip *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return memcmp(x->bytes, y->bytes, sizeof x->bytes);
}

mcrx_error mcrx__sources_normalise(const mcrx_ip *in, size_t n, mcrx_ip **out, size_t *nout,
                                   mcrx__err *err) {
    mcrx_ip *v;
    size_t i, k = 0;
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / sizeof *v || (v = malloc(n * sizeof *v)) == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "source list of %zu", n);
    for (i = 0; i < n; i++) {
        /* Whole struct zeroed first: bytes past an IPv4 address compare too. */
        memset(&v[i], 0, sizeof v[i]);
        v[i].family = in[i].family;
        memcpy(v[i].bytes, in[i].bytes, in[i].family == MCRX_IP_V4 ? 4 : 16);
    }
    qsort(v, n, sizeof *v, ip_order);
    for (i = 0; i < n; i++)
        if (k == 0 || ip_order(&v[k - 1], &v[i]) != 0)
            v[k++] = v[i];
    *out = v;
    *nout = k;
    return 0;
}

int mcrx__filter_has(const mcrx__filter *f, const mcrx_ip *source) {
    size_t i;
    for (i = 0; i < f->nsources; i++)
        if (mcrx_ip_equal(&f->sources[i], source))
            return 1;
    return 0;
}

int mcrx__filter_accepts(const mcrx__filter *f, const mcrx_ip *source) {
    /* ASM, the common case, decides without a loop. */
    if (f->nsources == 0)
        return f->mode == MCRX__EXCLUDE;
    return mcrx__filter_has(f, source) == (f->mode == MCRX__INCLUDE);
}

int mcrx__filter_is_none(const mcrx__filter *f) {
    return f->mode == MCRX__INCLUDE && f->nsources == 0;
}

int mcrx__filter_equal(const mcrx__filter *a, const mcrx__filter *b) {
    size_t i;
    if (a->mode != b->mode || a->nsources != b->nsources || !mcrx_ip_equal(&a->group, &b->group))
        return 0;
    for (i = 0; i < a->nsources; i++)
        if (!mcrx__filter_has(b, &a->sources[i]))
            return 0;
    return 1;
}

/* Calls op for each source of a that b does not list; on failure undoes the
 * ones done with undo. */
static mcrx_error each_missing(const mcrx__filter *a, const mcrx__filter *b, mcrx__member_op op,
                               mcrx__member_op undo, mcrx__member_fn call, void *sock,
                               mcrx__err *err) {
    size_t i, j;
    for (i = 0; i < a->nsources; i++) {
        if (mcrx__filter_has(b, &a->sources[i]))
            continue;
        if (call(sock, &a->group, &a->sources[i], op, err) != 0) {
            mcrx__err ignored;
            for (j = 0; j < i; j++)
                if (!mcrx__filter_has(b, &a->sources[j]))
                    call(sock, &a->group, &a->sources[j], undo, &ignored);
            return err->code;
        }
    }
    return 0;
}

mcrx_error mcrx__filter_apply(const mcrx__filter *from, const mcrx__filter *to,
                              mcrx__member_fn call, void *sock, mcrx__err *err) {
    mcrx__filter none;
    mcrx__filter_none(&none, &from->group);
    if (mcrx__filter_equal(from, to))
        return 0;
    if (from->mode != to->mode && !mcrx__filter_is_none(from) && !mcrx__filter_is_none(to)) {
        mcrx_error rc = mcrx__filter_apply(from, &none, call, sock, err);
        if (rc != 0 || (rc = mcrx__filter_apply(&none, to, call, sock, err)) == 0)
            return rc;
        {
            /* The new state was refused (a source limit, say): join the old
             * one again, so a failed change leaves the membership as it was
             * and the caller's filter, which it keeps, is still true. */
            mcrx__err ignored;
            (void)mcrx__filter_apply(&none, from, call, sock, &ignored);
        }
        return rc;
    }
    if (to->mode == MCRX__EXCLUDE) {
        if (mcrx__filter_is_none(from)) {
            if (call(sock, &to->group, NULL, MCRX__OP_ADD_GROUP, err) != 0)
                return err->code;
            if (each_missing(to, &none, MCRX__OP_BLOCK, MCRX__OP_UNBLOCK, call, sock, err) != 0) {
                mcrx__err ignored;
                call(sock, &to->group, NULL, MCRX__OP_DROP_GROUP, &ignored);
                return err->code;
            }
            return 0;
        }
        if (each_missing(to, from, MCRX__OP_BLOCK, MCRX__OP_UNBLOCK, call, sock, err) != 0)
            return err->code;
        return each_missing(from, to, MCRX__OP_UNBLOCK, MCRX__OP_BLOCK, call, sock, err);
    }
    if (from->mode == MCRX__EXCLUDE) /* to is INCLUDE{}: leave */
        return call(sock, &from->group, NULL, MCRX__OP_DROP_GROUP, err);
    if (each_missing(to, from, MCRX__OP_ADD_SOURCE, MCRX__OP_DROP_SOURCE, call, sock, err) != 0)
        return err->code;
    return each_missing(from, to, MCRX__OP_DROP_SOURCE, MCRX__OP_ADD_SOURCE, call, sock, err);
}
