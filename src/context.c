/* The context: owns subscriptions, their lifecycle and the readiness set.
 * Layers above it (the C ABI, the background receiver) attach to it
 * through ctx->attached and are not known here. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

mcrx_context *mcrx__context_new_with(const mcrx__backend *backend, int socket_list) {
    mcrx_context *ctx = calloc(1, sizeof *ctx);
    mcrx_error rc;
    if (ctx == NULL) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "context");
        return NULL;
    }
    rc = socket_list ? mcrx__poller_list_open(&ctx->poller, mcrx__tls_err())
                     : mcrx__poller_open(&ctx->poller, mcrx__tls_err());
    if (rc != 0) {
        free(ctx);
        return NULL;
    }
    mcrx__mutex_init(&ctx->lock);
    ctx->backend = backend;
    /* Fetching ahead needs a handle in the readiness set that stays readable
     * while datagrams are staged. The socket-list tier has no set of its
     * own (its callers watch the sockets), and without the handle one-datagram
     * calls simply do not fetch ahead. */
    ctx->staged_watch.kind = MCRX__WATCH_STAGED;
    ctx->staged_watch.handle = MCRX_SOCK_INVALID;
    if (!socket_list) {
        mcrx__err ignored;
        if (mcrx__wakeup_open(&ctx->staged_watch.handle, &ignored) == 0) {
            if (ctx->poller->ops->add(ctx->poller, &ctx->staged_watch, &ignored) == 0) {
                ctx->stage_on = 1;
            } else {
                mcrx__wakeup_close(ctx->staged_watch.handle);
                ctx->staged_watch.handle = MCRX_SOCK_INVALID;
            }
        }
    }
    ctx->next_id = 1;
    return ctx;
}

void mcrx_context_options_init(mcrx_context_options *opts) {
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->version = MCRX_CONTEXT_OPTIONS_VERSION;
    opts->backend = MCRX_BACKEND_UDP;
    opts->ring_buffers = 128;
    opts->ring_buffer_bytes = 65536;
}

mcrx_context *mcrx_context_new_with_options(const mcrx_context_options *opts) {
    const mcrx__backend *be = &mcrx__udp_backend, *owned = NULL;
    mcrx__err *err = mcrx__tls_err();
    mcrx_context *ctx;
    if (opts == NULL || opts->version != MCRX_CONTEXT_OPTIONS_VERSION ||
        opts->backend > MCRX_BACKEND_IO_URING) {
        mcrx__err_set(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "opts is required, set by mcrx_context_options_init, with a known backend");
        return NULL;
    }
    if (opts->backend == MCRX_BACKEND_IO_URING) {
        mcrx_error rc = mcrx__plat_uring_backend(opts->ring_buffers, opts->ring_buffer_bytes,
                                                 &owned, err);
        if (rc == MCRX_ERROR_NOT_SUPPORTED && !opts->no_fallback)
            owned = NULL; /* the UDP backend; mcrx_context_backend tells */
        else if (rc != 0)
            return NULL;
        if (owned != NULL)
            be = owned;
    }
    ctx = mcrx__context_new_with(be, 0);
    if (ctx == NULL) {
        mcrx__plat_uring_backend_free(owned);
        return NULL;
    }
    ctx->owned_backend = owned;
    ctx->poller->restart_interrupted = owned != NULL;
    mcrx__err_clear(err);
    return ctx;
}

mcrx_context *mcrx_context_new(void) {
    const char *want = getenv("MCRX_BACKEND");
    if (want != NULL && strcmp(want, "io_uring") == 0) {
        mcrx_context_options o;
        mcrx_context_options_init(&o);
        o.backend = MCRX_BACKEND_IO_URING;
        return mcrx_context_new_with_options(&o);
    }
    return mcrx__context_new_with(&mcrx__udp_backend, 0);
}

const char *mcrx_context_backend(const mcrx_context *ctx) {
    return ctx != NULL ? ctx->backend->name : NULL;
}

void mcrx_context_free(mcrx_context *ctx) {
    size_t i;
    if (ctx == NULL)
        return;
    /* What layers above attached (a background receiver is stopped here),
     * before the subscriptions it may be using go. */
    for (i = 0; i < MCRX__ATTACH_COUNT_; i++)
        if (ctx->attached[i].free != NULL)
            ctx->attached[i].free(ctx, ctx->attached[i].data);
    /* Newest first: the kernel keeps an interface's groups in a list with
     * the newest at its head and walks it to drop a membership, so closing
     * in that order finds each at once instead of walking K groups K times. */
    for (i = ctx->nsubs; i-- > 0;)
        mcrx__sub_destroy(ctx->subs[i]);
    free(ctx->subs);
    free(ctx->ready);
    free(ctx->by_cfg);
    free(ctx->by_sock);
    mcrx__ifset_close(ctx);
    mcrx__stage_free_spares(ctx);
    ctx->poller->ops->close(ctx->poller);
    if (ctx->staged_watch.handle != MCRX_SOCK_INVALID)
        mcrx__wakeup_close(ctx->staged_watch.handle);
    mcrx__plat_uring_backend_free(ctx->owned_backend);
    mcrx__mutex_destroy(&ctx->lock);
    free(ctx);
}

/* Readers take the lock too: another thread (or the background receiver) may
 * be writing the same fields. The lock is not part of the context's value,
 * hence the cast. */
static void lock_const(const mcrx_context *ctx) {
    mcrx__mutex_lock((mcrx__mutex *)&ctx->lock);
}

static void unlock_const(const mcrx_context *ctx) {
    mcrx__mutex_unlock((mcrx__mutex *)&ctx->lock);
}

const char *mcrx_context_last_error(const mcrx_context *ctx) {
    /* A copy per thread: the context's own text may be rewritten by another
     * thread's call while the caller reads it. */
    static _Thread_local char copy[sizeof ((mcrx__err *)0)->msg];
    if (ctx == NULL)
        return mcrx__tls_err()->msg;
    lock_const(ctx);
    memcpy(copy, ctx->err.msg, sizeof copy);
    unlock_const(ctx);
    return copy;
}

mcrx_error mcrx_context_last_error_code(const mcrx_context *ctx) {
    mcrx_error code;
    if (ctx == NULL)
        return mcrx__tls_err()->code;
    lock_const(ctx);
    code = ctx->err.code;
    unlock_const(ctx);
    return code;
}

int mcrx_context_last_os_error(const mcrx_context *ctx) {
    int os;
    if (ctx == NULL)
        return mcrx__tls_err()->os;
    lock_const(ctx);
    os = ctx->err.os;
    unlock_const(ctx);
    return os;
}

size_t mcrx_context_subscription_count(const mcrx_context *ctx) {
    size_t n;
    if (ctx == NULL)
        return 0;
    lock_const(ctx);
    n = ctx->nsubs;
    unlock_const(ctx);
    return n;
}

mcrx_sock mcrx_context_fd(const mcrx_context *ctx) {
    mcrx_sock fd;
    if (ctx == NULL)
        return MCRX_SOCK_INVALID;
    fd = ctx->poller->ops->fd(ctx->poller);
    if (fd == MCRX_SOCK_INVALID) {
        /* The error record is not part of the context's value. */
        mcrx_context *c = (mcrx_context *)(uintptr_t)ctx;
        lock_const(ctx);
        mcrx__err_set(&c->err, MCRX_ERROR_NOT_SUPPORTED, 0,
                      "this context's poller (%s) has no single handle: watch the sockets "
                      "mcrx_context_sockets lists",
                      ctx->poller->ops->name);
        unlock_const(ctx);
    }
    return fd;
}

int mcrx_context_sockets(mcrx_context *ctx, mcrx_sock *socks_out, size_t cap, size_t *count_out) {
    size_t i, n = 0;
    if (ctx == NULL || count_out == NULL || (socks_out == NULL && cap > 0))
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and count_out are required, and socks_out when cap > 0");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    /* The caller will watch these sockets: datagrams fetched ahead would
     * not show on them, so one-datagram calls stop fetching ahead. What is
     * staged already is handed out first; mcrx_context_wait sees it. */
    ctx->stage_on = 0;
    for (i = 0; i < ctx->nsubs; i++) {
        const mcrx_subscription *sub = ctx->subs[i];
        if (!sub->in_poller)
            continue;
        if (n < cap)
            socks_out[n] = sub->watch.handle;
        n++;
    }
    if (ctx->ifmon != NULL) { /* interface changes: rejoin is part of readiness */
        if (n < cap)
            socks_out[n] = ctx->ifmon_watch.handle;
        n++;
    }
    mcrx__mutex_unlock(&ctx->lock);
    *count_out = n;
    return 0;
}

/* ---- lookup ------------------------------------------------------------------ */

/* Position of id in subs (ascending ids), or nsubs if absent. */
static size_t ctx_find(const mcrx_context *ctx, uint64_t id) {
    size_t lo = 0, hi = ctx->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = ctx->subs[mid]->id;
        if (v == id)
            return mid;
        if (v < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return ctx->nsubs;
}

int mcrx_context_contains_subscription(const mcrx_context *ctx, uint64_t id) {
    int found;
    if (ctx == NULL)
        return 0;
    lock_const(ctx);
    found = ctx_find(ctx, id) < ctx->nsubs;
    unlock_const(ctx);
    return found;
}

mcrx_subscription *mcrx_context_get_subscription(mcrx_context *ctx, uint64_t id) {
    mcrx_subscription *sub;
    size_t i;
    if (ctx == NULL)
        return NULL;
    mcrx__mutex_lock(&ctx->lock);
    i = ctx_find(ctx, id);
    sub = i < ctx->nsubs ? ctx->subs[i] : NULL;
    mcrx__mutex_unlock(&ctx->lock);
    return sub;
}

mcrx_subscription *mcrx_context_subscription_at(mcrx_context *ctx, size_t index) {
    mcrx_subscription *sub = NULL;
    if (ctx == NULL)
        return NULL;
    mcrx__mutex_lock(&ctx->lock);
    if (index < ctx->nsubs)
        sub = ctx->subs[index];
    mcrx__mutex_unlock(&ctx->lock);
    return sub;
}

/* ---- add ------------------------------------------------------------------------ */

static int same_ip(const mcrx_ip *a, const mcrx_ip *b) {
    return mcrx_ip_equal(a, b) && a->scope_id == b->scope_id;
}

/* Configs compare by their normalised filters (a version 1 source S is the
 * same as a version 2 INCLUDE{S}, and a list's order and repeats do not
 * matter) and their normalised interface sets. */
static int same_config(const mcrx_subscription *s, const mcrx_subscription_config *b,
                       const mcrx__filter *fb, const mcrx__ifnames *names) {
    const mcrx_subscription_config *a = &s->cfg;
    return a->dst_port == b->dst_port && mcrx__filter_equal(&s->filter, fb) &&
           same_ip(&a->interface, &b->interface) && a->interface_index == b->interface_index &&
           mcrx__ifset_equal(s, names);
}

/* FNV-1a over exactly the fields same_config compares. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n-- > 0)
        h = (h ^ *b++) * 0x100000001b3ULL;
    return h;
}

static uint64_t hash_ip(uint64_t h, const mcrx_ip *ip, int with_scope) {
    size_t len = ip->family == MCRX_IP_V4 ? 4 : ip->family == MCRX_IP_V6 ? 16 : 0;
    h = hash_bytes(h, &ip->family, 1);
    h = hash_bytes(h, ip->bytes, len);
    return with_scope ? hash_bytes(h, &ip->scope_id, sizeof ip->scope_id) : h;
}

static uint64_t config_hash(const mcrx_subscription_config *c, const mcrx__filter *f,
                            const mcrx__ifnames *names) {
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;
    h = hash_bytes(h, &c->dst_port, sizeof c->dst_port);
    h = hash_ip(h, &c->group, 0);
    h = hash_bytes(h, &f->mode, sizeof f->mode);
    for (i = 0; i < f->nsources; i++) /* sorted: equal filters hash alike */
        h = hash_ip(h, &f->sources[i], 0);
    h = hash_ip(h, &c->interface, 1);
    h = hash_bytes(h, &c->interface_index, sizeof c->interface_index);
    /* The normalised interface set: the same interfaces in any order and
     * spelling (name, index, address) are the same set. */
    h = hash_bytes(h, &names->flags, sizeof names->flags);
    for (i = 0; i < names->n; i++)
        h = hash_bytes(h, names->names[i], strlen(names->names[i]) + 1);
    return h;
}

static mcrx_subscription **bucket(const mcrx_context *ctx, uint64_t hash) {
    return &ctx->by_cfg[hash & (ctx->capsubs - 1)]; /* capsubs is a power of two */
}

/* fds are small and dense, so the low bits spread them evenly. */
static mcrx_subscription **sock_bucket(const mcrx_context *ctx, mcrx_sock sock) {
    return &ctx->by_sock[(uint64_t)sock & (ctx->capsubs - 1)];
}

static void index_sub(mcrx_context *ctx, mcrx_subscription *sub) {
    mcrx_subscription **b = bucket(ctx, sub->cfg_hash);
    sub->same_hash = *b;
    *b = sub;
    b = sock_bucket(ctx, sub->ep.sock);
    sub->same_sock = *b;
    *b = sub;
}

static void unindex_sub(mcrx_context *ctx, mcrx_subscription *sub) {
    mcrx_subscription **p = bucket(ctx, sub->cfg_hash);
    while (*p != sub)
        p = &(*p)->same_hash;
    *p = sub->same_hash;
    sub->same_hash = NULL;
    p = sock_bucket(ctx, sub->ep.sock);
    while (*p != sub)
        p = &(*p)->same_sock;
    *p = sub->same_sock;
    sub->same_sock = NULL;
}

/* The subscription of this context that owns sock, or NULL. */
static const mcrx_subscription *sock_owner(const mcrx_context *ctx, mcrx_sock sock) {
    const mcrx_subscription *s;
    if (ctx->capsubs == 0)
        return NULL;
    for (s = *sock_bucket(ctx, sock); s != NULL; s = s->same_sock)
        if (s->ep.sock == sock)
            return s;
    return NULL;
}

/* Room for one more subscription; a ready ring and hash buckets as large as
 * the array. Growing happens here, never on the receive path. */
static int reserve(mcrx_context *ctx) {
    size_t cap, i;
    mcrx_subscription **subs, **ready, **by_cfg, **by_sock;
    if (ctx->nsubs < ctx->capsubs)
        return 0;
    cap = ctx->capsubs ? ctx->capsubs * 2 : 8;
    subs = realloc(ctx->subs, cap * sizeof *subs);
    if (subs == NULL)
        return mcrx__err_set(&ctx->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "subscription table");
    ctx->subs = subs;
    by_cfg = calloc(cap, sizeof *by_cfg);
    by_sock = calloc(cap, sizeof *by_sock);
    ready = malloc(cap * sizeof *ready);
    if (ready == NULL || by_cfg == NULL || by_sock == NULL) {
        free(ready);
        free(by_cfg);
        free(by_sock);
        return mcrx__err_set(&ctx->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "ready queue");
    }
    free(ctx->by_cfg);
    ctx->by_cfg = by_cfg;
    free(ctx->by_sock);
    ctx->by_sock = by_sock;
    for (i = 0; i < ctx->ready_len; i++)
        ready[i] = ctx->ready[(ctx->ready_head + i) % ctx->ready_cap];
    free(ctx->ready);
    ctx->ready = ready;
    ctx->ready_head = 0;
    ctx->ready_cap = cap;
    ctx->capsubs = cap;
    for (i = 0; i < ctx->nsubs; i++)
        index_sub(ctx, ctx->subs[i]);
    return 0;
}

/* The normalised interface set sub was made with. */
static void sub_names(const mcrx_subscription *sub, mcrx__ifnames *out) {
    size_t i;
    memset(out, 0, sizeof *out);
    if (sub->ifs == NULL)
        return;
    out->flags = sub->ifflags;
    for (i = 0; i < sub->nifs && out->n < MCRX__IFSET_MAX; i++)
        if (sub->ifs[i].listed)
            memcpy(out->names[out->n++], sub->ifs[i].name, sizeof out->names[0]);
}

/* Duplicate check of a prepared config (its filter f, its interface set)
 * against every subscription but self. */
static int check_duplicate(mcrx_context *ctx, const mcrx_subscription_config *cfg,
                           const mcrx__filter *f, const mcrx__ifnames *names,
                           const mcrx_subscription *self) {
    const mcrx_subscription *s;
    uint64_t h;
    if (ctx->capsubs == 0)
        return 0;
    h = config_hash(cfg, f, names);
    for (s = *bucket(ctx, h); s != NULL; s = s->same_hash)
        if (s != self && s->cfg_hash == h && same_config(s, cfg, f, names))
            return mcrx__err_set(&ctx->err, MCRX_ERROR_DUPLICATE_SUBSCRIPTION, 0,
                                 "same config as subscription %llu", (unsigned long long)s->id);
    return 0;
}

/* Validation (cfg_in imported into cfg, its list normalised into *list, its
 * interface set into *names) and duplicate check, in the Rust crate's
 * order. */
static int precheck(mcrx_context *ctx, const mcrx_subscription_config *cfg_in,
                    mcrx_subscription_config *cfg, mcrx_ip **list, size_t *nlist,
                    mcrx__ifnames *names) {
    mcrx__filter f;
    int rc;
    if (mcrx__config_prepare(cfg_in, cfg, list, nlist, &ctx->err) != 0)
        return mcrx__status_of(ctx->err.code);
    rc = mcrx__ifset_normalise(cfg, names, &ctx->err) != 0 ? mcrx__status_of(ctx->err.code) : 0;
    if (rc == 0) {
        mcrx__config_filter(cfg, *list, *nlist, &f);
        rc = check_duplicate(ctx, cfg, &f, names, NULL);
    }
    if (rc == 0)
        rc = reserve(ctx);
    if (rc != 0) {
        free(*list);
        *list = NULL;
    }
    return rc;
}

static int store(mcrx_context *ctx, const mcrx_subscription_config *cfg, mcrx_ip *list,
                 size_t nlist, const mcrx__endpoint *ep, const mcrx__ifnames *names,
                 uint64_t *id_out) {
    mcrx_subscription *sub;
    int rc = mcrx__sub_new(ctx->next_id, cfg, list, nlist, ep, names, &sub, &ctx->err);
    if (rc != 0)
        return rc;
    sub->ctx = ctx;
    sub->cfg_hash = config_hash(&sub->cfg, &sub->filter, names);
    index_sub(ctx, sub);
    ctx->subs[ctx->nsubs++] = sub;
    ctx->added++;
    *id_out = ctx->next_id++;
    return 0;
}

static int add(mcrx_context *ctx, const mcrx_subscription_config *cfg_in,
               mcrx_sock caller_sock, uint64_t *id_out) {
    const mcrx__backend *be = ctx->backend;
    const mcrx_subscription *owner;
    mcrx__endpoint ep;
    /* From here on only the imported copy is read: a version 1 caller's
     * struct ends before the version 2 fields. */
    mcrx_subscription_config copy, *cfg = &copy;
    mcrx_ip *list;
    size_t nlist;
    mcrx__ifnames names;
    int rc = precheck(ctx, cfg_in, cfg, &list, &nlist, &names);
    if (rc != 0)
        return rc;
    /* Before anything touches the socket: a second owner would change the
     * first one's options now and close its fd twice later. */
    owner = caller_sock != MCRX_SOCK_INVALID ? sock_owner(ctx, caller_sock) : NULL;
    if (owner != NULL) {
        free(list);
        return mcrx__err_set(&ctx->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "socket %lld is already owned by subscription %llu",
                             (long long)caller_sock, (unsigned long long)owner->id);
    }
    memset(&ep, 0, sizeof ep);
    ep.be = be;
    ep.sock = MCRX_SOCK_INVALID;
    if (caller_sock == MCRX_SOCK_INVALID)
        rc = be->open(cfg, &ep, &ctx->err);
    else if (be->adopt == NULL)
        rc = mcrx__fail(&ctx->err, MCRX_ERROR_NOT_SUPPORTED, 0,
                        "the %s receive path does not take a caller's socket", be->name);
    else
        rc = be->adopt(cfg, caller_sock, &ep, &ctx->err);
    if (rc != 0) {
        free(list);
        return mcrx__status_of(ctx->err.code);
    }
    rc = store(ctx, cfg, list, nlist, &ep, &names, id_out);
    if (rc != 0)
        be->close(&ep, caller_sock != MCRX_SOCK_INVALID);
    return rc;
}

int mcrx_context_add(mcrx_context *ctx, const mcrx_subscription_config *cfg,
                     uint64_t *id_out) {
    int rc;
    if (ctx == NULL || cfg == NULL || id_out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context, config and id_out are required");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    rc = add(ctx, cfg, MCRX_SOCK_INVALID, id_out);
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

int mcrx_context_add_with_socket(mcrx_context *ctx, const mcrx_subscription_config *cfg,
                                 mcrx_sock sock, uint64_t *id_out) {
    int rc;
    if (ctx == NULL || cfg == NULL || id_out == NULL || sock < 0)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context, config, a valid socket and id_out are required");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    rc = add(ctx, cfg, sock, id_out);
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static mcrx_subscription *lookup(mcrx_context *ctx, uint64_t id) {
    size_t i = ctx_find(ctx, id);
    if (i == ctx->nsubs) {
        mcrx__err_set(&ctx->err, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND, 0, "id %llu",
                      (unsigned long long)id);
        return NULL;
    }
    return ctx->subs[i];
}

/* keep_staged: a taken or removed subscription takes its staged datagrams
 * with it; one that left the group drops them, as the attachments do. */
static void unwatch(mcrx_context *ctx, mcrx_subscription *sub, int keep_staged) {
    size_t i;
    mcrx__stage_forget(sub, keep_staged);
    /* Datagrams a layer above received and has not handed out yet are
     * dropped with it: none is delivered once it has left. */
    for (i = 0; i < MCRX__ATTACH_COUNT_; i++)
        if (ctx->attached[i].forget != NULL)
            ctx->attached[i].forget(ctx->attached[i].data, sub);
    if (sub->in_poller) {
        ctx->poller->ops->del(ctx->poller, &sub->watch);
        sub->in_poller = 0;
    }
    mcrx__ready_forget(ctx, sub);
}

static int join_locked(mcrx_context *ctx, uint64_t id) {
    mcrx_subscription *sub = lookup(ctx, id);
    int rc;
    if (sub == NULL)
        return MCRX_STATUS_ERROR;
    /* The interface monitor subscribes before the join lists the links:
     * a change in between is not lost. */
    mcrx__ifset_watch(ctx, sub);
    rc = mcrx__sub_membership(sub, 1, &ctx->err);
    if (rc != 0)
        return rc;
    if (ctx->poller->ops->add(ctx->poller, &sub->watch, &ctx->err) != 0) {
        rc = mcrx__status_of(ctx->err.code);
        mcrx__err tmp;
        mcrx__sub_membership(sub, 0, &tmp); /* a failed join leaves the state unchanged */
        return rc;
    }
    sub->in_poller = 1;
    return 0;
}

static int leave_locked(mcrx_context *ctx, uint64_t id) {
    mcrx_subscription *sub = lookup(ctx, id);
    int rc;
    if (sub == NULL)
        return MCRX_STATUS_ERROR;
    rc = mcrx__sub_membership(sub, 0, &ctx->err);
    if (rc != 0)
        return rc;
    unwatch(ctx, sub, 0);
    return 0;
}

/* Detaches id from the context; NULL (and an error) if absent. */
static mcrx_subscription *detach_locked(mcrx_context *ctx, uint64_t id) {
    size_t i = ctx_find(ctx, id);
    mcrx_subscription *sub;
    if (i == ctx->nsubs) {
        mcrx__err_set(&ctx->err, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND, 0, "id %llu",
                      (unsigned long long)id);
        return NULL;
    }
    sub = ctx->subs[i];
    unwatch(ctx, sub, 1);
    unindex_sub(ctx, sub);
    memmove(&ctx->subs[i], &ctx->subs[i + 1], (ctx->nsubs - i - 1) * sizeof ctx->subs[0]);
    ctx->nsubs--;
    sub->ctx = NULL;
    /* Its counts stay in the context's lifetime totals. */
    mcrx__counters_add(&ctx->retired, &sub->n);
    ctx->removed++;
    return sub;
}

typedef enum { OP_JOIN, OP_LEAVE, OP_REMOVE } lifecycle_op;

static int lifecycle(mcrx_context *ctx, uint64_t id, lifecycle_op op) {
    int rc = 0;
    if (ctx == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context is NULL");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    if (op == OP_JOIN) {
        rc = join_locked(ctx, id);
    } else if (op == OP_LEAVE) {
        rc = leave_locked(ctx, id);
    } else {
        mcrx_subscription *sub = detach_locked(ctx, id);
        if (sub == NULL)
            rc = MCRX_STATUS_ERROR;
        /* Closing the socket drops its membership in the kernel. */
        mcrx__sub_destroy(sub);
    }
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

int mcrx_context_join_subscription(mcrx_context *ctx, uint64_t id) {
    return lifecycle(ctx, id, OP_JOIN);
}

int mcrx_context_leave_subscription(mcrx_context *ctx, uint64_t id) {
    return lifecycle(ctx, id, OP_LEAVE);
}

int mcrx_context_remove_subscription(mcrx_context *ctx, uint64_t id) {
    return lifecycle(ctx, id, OP_REMOVE);
}

int mcrx_context_take_subscription(mcrx_context *ctx, uint64_t id, mcrx_subscription **sub_out) {
    mcrx_subscription *sub;
    if (ctx == NULL || sub_out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and sub_out are required");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    sub = detach_locked(ctx, id);
    mcrx__mutex_unlock(&ctx->lock);
    *sub_out = sub;
    return sub != NULL ? 0 : MCRX_STATUS_ERROR;
}

/* ---- a context's subscription joins through it -------------------------------- */

/* A subscription still held by its context joins through it, so the context's
 * readiness set stays in step. */
static int membership(mcrx_subscription *sub, int join) {
    int rc;
    if (sub == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription is NULL");
    if (sub->ctx != NULL) {
        mcrx_context *ctx = sub->ctx;
        rc = lifecycle(ctx, sub->id, join ? OP_JOIN : OP_LEAVE);
        /* sub is still valid: join and leave never remove it. */
        return mcrx__err_copy(&sub->err, &ctx->err) == 0 ? 0 : rc;
    }
    mcrx__err_clear(&sub->err);
    rc = mcrx__sub_membership(sub, join, &sub->err);
    if (rc == 0 && !join)
        mcrx__stage_forget(sub, 0); /* none is delivered once it has left */
    return rc;
}

int mcrx_subscription_join_group(mcrx_subscription *sub) {
    return membership(sub, 1);
}

int mcrx_subscription_leave_group(mcrx_subscription *sub) {
    return membership(sub, 0);
}

/* ---- source filters ------------------------------------------------------------ */

int mcrx_context_set_sources(mcrx_context *ctx, uint64_t id, uint32_t mode,
                             const mcrx_ip *sources, size_t n) {
    mcrx_subscription *sub;
    mcrx_subscription_config cfg;
    mcrx__filter f;
    mcrx__ifnames names;
    mcrx_ip *list;
    size_t nlist;
    int rc;
    if (ctx == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context is NULL");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    sub = lookup(ctx, id);
    rc = sub == NULL ? MCRX_STATUS_ERROR
                     : mcrx__sub_sources_config(sub, mode, sources, n, &cfg, &list, &nlist,
                                                &ctx->err);
    if (rc == 0) {
        mcrx__config_filter(&cfg, list, nlist, &f);
        sub_names(sub, &names);
        rc = check_duplicate(ctx, &cfg, &f, &names, sub);
        if (rc != 0)
            free(list);
    }
    if (rc == 0) {
        /* Out of its hash bucket while the config changes, back in after
         * (with the old hash again when the change failed). */
        unindex_sub(ctx, sub);
        rc = mcrx__sub_set_sources(sub, &cfg, list, nlist, &ctx->err);
        sub->cfg_hash = config_hash(&sub->cfg, &sub->filter, &names);
        index_sub(ctx, sub);
    }
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

int mcrx_subscription_set_sources(mcrx_subscription *sub, uint32_t mode,
                                  const mcrx_ip *sources, size_t n) {
    mcrx_subscription_config cfg;
    mcrx_ip *list;
    size_t nlist;
    if (sub == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription is NULL");
    if (sub->ctx != NULL) {
        /* Still the context's: through it, under its lock. */
        mcrx_context *ctx = sub->ctx;
        int rc = mcrx_context_set_sources(ctx, sub->id, mode, sources, n);
        return mcrx__err_copy(&sub->err, &ctx->err) == 0 ? 0 : rc;
    }
    mcrx__err_clear(&sub->err);
    if (mcrx__sub_sources_config(sub, mode, sources, n, &cfg, &list, &nlist, &sub->err) != 0)
        return mcrx__status_of(sub->err.code);
    return mcrx__sub_set_sources(sub, &cfg, list, nlist, &sub->err);
}
