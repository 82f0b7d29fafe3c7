/*
 * Interface sets and rejoin: a subscription joined on a list of interfaces
 * (followed by name) or on every one that is up and multicast-capable. Each
 * (group, interface) is one kernel membership on the subscription's socket,
 * which is bound to no device; classify() in recv.c accepts a datagram only
 * from an interface where the membership is in place.
 *
 * The context's interface monitor (platform.h) makes its readiness set
 * readable when links or addresses change. Then the links are listed again
 * and every joined set is brought up to date: the state, not the stream of
 * notifications, decides, so a lost notification (overflow) or a delete and
 * re-create between two looks (a new index, the same name) come out right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- the config's set -------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static const mcrx__link *link_by_index(const mcrx__link *v, size_t n, uint32_t index) {
    size_t i;
    for (i = 0; i < n; i++)
        if (v[i].index == index)
            return &v[i];
    return NULL;
}

static const mcrx__link *link_by_name(const mcrx__link *v, size_t n, const char *name) {
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

mcrx_error mcrx__ifset_normalise(const mcrx_subscription_config *cfg, mcrx__ifnames *out,
                                 mcrx__err *err) {
    mcrx__link *links = NULL;
    size_t nlinks = 0, i, k = 0;
    mcrx_error rc = 0;
    memset(out, 0, sizeof *out);
    if (!mcrx__config_has_ifset(cfg))
        return 0;
    out->flags = cfg->interface_flags;
    for (i = 0; i < cfg->ninterfaces && rc == 0; i++) {
        mcrx__ifentry e;
        const mcrx__link *l = NULL;
        rc = mcrx__config_ifentry(cfg->interfaces[i], cfg->group.family, &e, err);
        if (rc != 0)
            break;
        if (e.kind == MCRX__IFE_NAME) {
            /* A name need not exist yet: it is followed (a VPN that comes up later). */
            memcpy(out->names[k++], e.name, sizeof e.name);
            continue;
        }
        if (links == NULL && (rc = mcrx__plat_links(&links, &nlinks, err)) != 0)
            break;
        if (e.kind == MCRX__IFE_ADDRESS && e.index == 0)
            rc = mcrx__plat_index_of_address(&e.addr, &e.index, err);
        if (rc == 0)
            l = link_by_index(links, nlinks, e.index);
        if (rc == 0 && l == NULL)
            rc = mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, 0,
                            "interface set entry '%s': interface index %u does not exist "
                            "(indexes and addresses are looked up at add; name an interface "
                            "to follow it while it is absent)",
                            cfg->interfaces[i], e.index);
        if (rc == 0)
            memcpy(out->names[k++], l->name, sizeof l->name);
    }
    free(links);
    if (rc != 0)
        return rc;
    qsort(out->names, k, sizeof out->names[0], cmp_name);
    out->n = 0;
    for (i = 0; i < k; i++)
        if (out->n == 0 || strcmp(out->names[out->n - 1], out->names[i]) != 0)
            memmove(out->names[out->n++], out->names[i], sizeof out->names[0]);
    return 0;
}

int mcrx__ifset_equal(const mcrx_subscription *sub, const mcrx__ifnames *names) {
    size_t i, k = 0;
    if (sub->ifs == NULL)
        return names->flags == 0 && names->n == 0;
    if (sub->ifflags != names->flags)
        return 0;
    for (i = 0; i < sub->nifs; i++) {
        if (!sub->ifs[i].listed)
            continue;
        if (k >= names->n || strcmp(sub->ifs[i].name, names->names[k]) != 0)
            return 0;
        k++;
    }
    return k == names->n;
}

static mcrx__ifslot *add_slot(mcrx_subscription *sub, const char *name, int listed) {
    mcrx__ifslot *s;
    if (sub->nifs == sub->capifs) {
        size_t cap = sub->capifs ? sub->capifs * 2 : 8;
        mcrx__ifslot *v = realloc(sub->ifs, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        sub->ifs = v;
        sub->capifs = cap;
    }
    s = &sub->ifs[sub->nifs++];
    memset(s, 0, sizeof *s);
    strncpy(s->name, name, sizeof s->name - 1);
    s->listed = listed;
    return s;
}

mcrx_error mcrx__ifset_init(mcrx_subscription *sub, const mcrx__ifnames *names, mcrx__err *err) {
    const mcrx_subscription_config *cfg = &sub->cfg;
    size_t i, bytes = 0;
    char **ptrs, *p;
    if (!mcrx__config_has_ifset(cfg))
        return 0;
    sub->ifflags = names->flags;
    /* Slots exist from the start (even with ALL alone), so classify sees
     * a set; an empty array still needs a non-NULL pointer. */
    sub->ifs = calloc(names->n > 0 ? names->n : 1, sizeof *sub->ifs);
    if (sub->ifs == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "interface set");
    sub->capifs = names->n > 0 ? names->n : 1;
    for (i = 0; i < names->n; i++)
        add_slot(sub, names->names[i], 1); /* room reserved above */
    /* The config keeps the texts as given, in memory the subscription owns. */
    for (i = 0; i < cfg->ninterfaces; i++)
        bytes += strlen(cfg->interfaces[i]) + 1;
    sub->iftexts = malloc(cfg->ninterfaces * sizeof(char *) + bytes + 1);
    if (sub->iftexts == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "interface set texts");
    ptrs = sub->iftexts;
    p = (char *)(ptrs + cfg->ninterfaces);
    for (i = 0; i < cfg->ninterfaces; i++) {
        size_t len = strlen(cfg->interfaces[i]) + 1;
        memcpy(p, cfg->interfaces[i], len);
        ptrs[i] = p;
        p += len;
    }
    sub->cfg.interfaces = (const char *const *)ptrs;
    return 0;
}

void mcrx__ifset_free(mcrx_subscription *sub) {
    free(sub->ifs);
    free(sub->iftexts);
    sub->ifs = NULL;
    sub->iftexts = NULL;
    sub->nifs = sub->capifs = 0;
}

/* ---- joining on a set ---------------------------------------------------------------- */

/* Whether a membership can live on l now: up, and for IPv6 an MTU of at
 * least 1280 (below it the kernel destroys IPv6 groups silently). A named
 * interface is joined whatever its multicast flag (the kernel decides);
 * ALL takes only multicast-capable ones, loopback when asked. */
static int usable(const mcrx__link *l, const mcrx_subscription *sub, int listed) {
    if (l == NULL || !(l->flags & MCRX__LINK_UP))
        return 0;
    if (sub->cfg.group.family == MCRX_IP_V6 && l->mtu != 0 && l->mtu < 1280)
        return 0;
    if (listed)
        return 1;
    if (!(l->flags & MCRX__LINK_MULTICAST))
        return 0;
    return !(l->flags & MCRX__LINK_LOOPBACK) || (sub->ifflags & MCRX_IFSET_LOOPBACK);
}

static int slot_of(const mcrx_subscription *sub, const char *name) {
    size_t i;
    for (i = 0; i < sub->nifs; i++)
        if (strcmp(sub->ifs[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Slots for what ALL finds now that the list does not name. */
static mcrx_error add_all(mcrx_subscription *sub, const mcrx__link *links, size_t n,
                          mcrx__err *err) {
    size_t i;
    if (!(sub->ifflags & MCRX_IFSET_ALL))
        return 0;
    for (i = 0; i < n; i++)
        if (usable(&links[i], sub, 0) && slot_of(sub, links[i].name) < 0 &&
            add_slot(sub, links[i].name, 0) == NULL)
            return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "interface set");
    return 0;
}

static int slot_usable(const mcrx_subscription *sub, const mcrx__ifslot *s,
                       const mcrx__link *links, size_t n) {
    return usable(link_by_name(links, n, s->name), sub, s->listed);
}

/* Fails early, naming the sysctl, when `needed` memberships on one socket
 * would pass the kernel's per-socket limit. */
static mcrx_error check_limit(const mcrx_subscription *sub, size_t needed, mcrx__err *err) {
    uint32_t limit;
    const char *knob;
    char g[MCRX_IP_STRLEN];
    mcrx__plat_member_limit(sub->cfg.group.family, &limit, &knob);
    if (limit == 0 || needed <= limit)
        return 0;
    mcrx_ip_format(&sub->cfg.group, g, sizeof g);
    return mcrx__fail(err, MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED, 0,
                      "%s on %zu interfaces needs %zu memberships on one socket, and %s is "
                      "%u: raise it (sysctl -w %s=%zu)",
                      g, needed, needed, knob, (unsigned)limit, knob, needed);
}

/* Clears whatever the kernel still records of a membership on a dead or
 * downed interface: a plain group leave, whatever the mode (see apply in
 * platform.h). Failures are expected (the kernel may have nothing left). */
static void drop_dead(mcrx_subscription *sub, uint32_t index) {
    mcrx__filter any, none;
    mcrx__err ignored;
    mcrx__filter_none(&none, &sub->cfg.group);
    any = none;
    any.mode = MCRX__EXCLUDE;
    sub->ep.be->apply(&sub->ep, index, &any, &none, &ignored);
}

static mcrx_error join_set(mcrx_subscription *sub, const mcrx__filter *none,
                           const mcrx__filter *to, mcrx__err *err) {
    mcrx__link *links;
    size_t n, i, needed = 0;
    mcrx_error rc = mcrx__plat_links(&links, &n, err);
    if (rc != 0)
        return rc;
    rc = add_all(sub, links, n, err);
    for (i = 0; i < sub->nifs && rc == 0; i++) {
        const mcrx__link *l = link_by_name(links, n, sub->ifs[i].name);
        sub->ifs[i].index = l != NULL ? l->index : 0;
        sub->ifs[i].joined = 0;
        sub->ifs[i].failed = MCRX_ERROR_NONE;
        needed += slot_usable(sub, &sub->ifs[i], links, n);
    }
    if (rc == 0)
        rc = check_limit(sub, needed, err);
    for (i = 0; i < sub->nifs && rc == 0; i++) {
        mcrx__ifslot *s = &sub->ifs[i];
        if (!slot_usable(sub, s, links, n))
            continue; /* absent or down: joined when it comes (rejoin) */
        rc = sub->ep.be->apply(&sub->ep, s->index, none, to, err);
        if (rc == 0) {
            s->joined = 1;
        } else {
            char what[48];
            size_t j;
            mcrx__err ignored;
            snprintf(what, sizeof what, "interface %s (index %u)", s->name, (unsigned)s->index);
            mcrx__err_prefix(err, what);
            for (j = 0; j < i; j++)
                if (sub->ifs[j].joined) {
                    sub->ep.be->apply(&sub->ep, sub->ifs[j].index, to, none, &ignored);
                    sub->ifs[j].joined = 0;
                }
        }
    }
    free(links);
    return rc;
}

mcrx_error mcrx__sub_apply(mcrx_subscription *sub, const mcrx__filter *from,
                           const mcrx__filter *to, mcrx__err *err) {
    mcrx__filter none;
    mcrx_error rc = 0;
    size_t i, j;
    if (sub->ifs == NULL)
        return sub->ep.be->apply(&sub->ep, 0, from, to, err);
    mcrx__filter_none(&none, &sub->cfg.group);
    if (mcrx__filter_is_none(from))
        return join_set(sub, &none, to, err);
    if (mcrx__filter_is_none(to)) {
        /* Leave every interface. One that went away or down since the last
         * look has lost its membership in the kernel already (or the leave
         * names a dead index): what the socket may still record is cleared
         * with a plain group leave, and the leave succeeds. */
        for (i = 0; i < sub->nifs; i++) {
            mcrx__err one;
            if (!sub->ifs[i].joined)
                continue;
            if (sub->ep.be->apply(&sub->ep, sub->ifs[i].index, from, to, &one) != 0)
                drop_dead(sub, sub->ifs[i].index);
            sub->ifs[i].joined = 0;
        }
        /* What ALL found is found again at the next join. */
        for (i = j = 0; i < sub->nifs; i++)
            if (sub->ifs[i].listed)
                sub->ifs[j++] = sub->ifs[i];
        sub->nifs = j;
        return 0;
    }
    /* A change of filter while joined: on every interface, or on none. */
    for (i = 0; i < sub->nifs && rc == 0; i++)
        if (sub->ifs[i].joined)
            rc = sub->ep.be->apply(&sub->ep, sub->ifs[i].index, from, to, err);
    if (rc != 0) {
        mcrx__err ignored;
        for (j = 0; j + 1 < i; j++)
            if (sub->ifs[j].joined)
                sub->ep.be->apply(&sub->ep, sub->ifs[j].index, to, from, &ignored);
    }
    return rc;
}

/* ---- rejoin ------------------------------------------------------------------------------ */

static void push_event(mcrx_context *ctx, const mcrx_subscription *sub, const mcrx__ifslot *s,
                       uint32_t kind, uint32_t index, const mcrx__err *failure) {
    mcrx_interface_event *ev;
    if (ctx->events == NULL)
        return;
    if (ctx->ev_len == MCRX__EVENTS) { /* full: the oldest goes, counted */
        ctx->ev_head = (ctx->ev_head + 1) % MCRX__EVENTS;
        ctx->ev_len--;
        ctx->events_dropped++;
    }
    ev = &ctx->events[(ctx->ev_head + ctx->ev_len++) % MCRX__EVENTS];
    memset(ev, 0, sizeof *ev);
    ev->subscription_id = sub->id;
    ev->kind = kind;
    ev->interface_index = index;
    memcpy(ev->interface_name, s->name, sizeof ev->interface_name);
    ev->error = failure != NULL ? failure->code : MCRX_ERROR_NONE;
    ev->os_error = failure != NULL ? failure->os : 0;
    ev->time_ns = mcrx__wall_ns();
}

static size_t joined_count(const mcrx_subscription *sub) {
    size_t i, n = 0;
    for (i = 0; i < sub->nifs; i++)
        n += sub->ifs[i].joined;
    return n;
}

/* Brings one joined set up to date with the links as they are now. */
static void reconcile(mcrx_context *ctx, mcrx_subscription *sub, const mcrx__link *links,
                      size_t n) {
    mcrx__filter none;
    size_t i;
    mcrx__err ignored;
    mcrx__filter_none(&none, &sub->cfg.group);
    add_all(sub, links, n, &ignored);
    for (i = 0; i < sub->nifs; i++) {
        mcrx__ifslot *s = &sub->ifs[i];
        const mcrx__link *l = link_by_name(links, n, s->name);
        int ok = usable(l, sub, s->listed);
        if (s->joined && (!ok || l->index != s->index)) {
            /* Gone, down, renumbered (deleted and re-created) or unfit
             * (IPv6 MTU below 1280): the kernel dropped the membership or
             * will not deliver on it. Clear what the socket still records,
             * so the entry neither counts against the limit nor blocks a
             * rejoin (EADDRINUSE). */
            drop_dead(sub, s->index);
            s->joined = 0;
            sub->n.if_losses++;
            push_event(ctx, sub, s, MCRX_IFEVENT_LOST, s->index, NULL);
        }
        s->index = l != NULL ? l->index : 0;
        if (!s->joined && ok) {
            mcrx__err e;
            mcrx_error rc = check_limit(sub, joined_count(sub) + 1, &e);
            if (rc == 0)
                rc = sub->ep.be->apply(&sub->ep, s->index, &none, &sub->filter, &e);
            if (rc == 0) {
                s->joined = 1;
                s->failed = MCRX_ERROR_NONE;
                sub->n.if_rejoins++;
                push_event(ctx, sub, s, MCRX_IFEVENT_JOINED, s->index, NULL);
            } else if (s->failed != rc) {
                /* Reported once per kind of failure, not at every change. */
                s->failed = rc;
                push_event(ctx, sub, s, MCRX_IFEVENT_FAILED, s->index, &e);
            }
        }
    }
}

void mcrx__ifset_changed(mcrx_context *ctx) {
    mcrx__link *links;
    size_t n, i;
    int changed = 0;
    mcrx__err ignored;
    if (ctx->ifmon == NULL)
        return;
    if (mcrx__ifmon_drain(ctx->ifmon, &changed, &ignored) != 0)
        changed = 1; /* a failed read: look anyway */
    if (!changed)
        return;
    if (mcrx__plat_links(&links, &n, &ignored) != 0)
        return; /* the next change looks again */
    for (i = 0; i < ctx->nsubs; i++) {
        mcrx_subscription *sub = ctx->subs[i];
        if (sub->ifs != NULL && sub->state == MCRX_STATE_JOINED)
            reconcile(ctx, sub, links, n);
    }
    free(links);
}

void mcrx__ifset_watch(mcrx_context *ctx, const mcrx_subscription *sub) {
    mcrx__err ignored;
    if (sub->ifs == NULL || ctx->ifmon != NULL || ctx->ifmon_unavailable)
        return;
    if (ctx->events == NULL) {
        ctx->events = calloc(MCRX__EVENTS, sizeof *ctx->events);
        if (ctx->events == NULL)
            return;
    }
    if (mcrx__ifmon_open(&ctx->ifmon, &ignored) != 0) {
        ctx->ifmon = NULL;
        ctx->ifmon_unavailable = ignored.code == MCRX_ERROR_NOT_SUPPORTED;
        return;
    }
    ctx->ifmon_watch.kind = MCRX__WATCH_IFMON;
    ctx->ifmon_watch.handle = mcrx__ifmon_handle(ctx->ifmon);
    if (ctx->poller->ops->add(ctx->poller, &ctx->ifmon_watch, &ignored) != 0) {
        mcrx__ifmon_close(ctx->ifmon);
        ctx->ifmon = NULL;
    }
}

void mcrx__ifset_close(mcrx_context *ctx) {
    if (ctx->ifmon != NULL) {
        ctx->poller->ops->del(ctx->poller, &ctx->ifmon_watch);
        mcrx__ifmon_close(ctx->ifmon);
        ctx->ifmon = NULL;
    }
    free(ctx->events);
    ctx->events = NULL;
}

/* ---- public -------------------------------------------------------------------------------- */

int mcrx_context_next_interface_event(mcrx_context *ctx, mcrx_interface_event *ev, int *got_out) {
    if (got_out != NULL)
        *got_out = 0;
    if (ctx == NULL || ev == NULL || got_out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context, ev and got_out are required");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    if (ctx->ev_len > 0) {
        *ev = ctx->events[ctx->ev_head];
        ctx->ev_head = (ctx->ev_head + 1) % MCRX__EVENTS;
        ctx->ev_len--;
        *got_out = 1;
    }
    mcrx__mutex_unlock(&ctx->lock);
    return 0;
}

int mcrx_subscription_interfaces(mcrx_subscription *sub, mcrx_interface_membership *out,
                                 size_t cap, size_t *count_out) {
    size_t i;
    mcrx_context *ctx;
    if (count_out != NULL)
        *count_out = 0;
    if (sub == NULL || count_out == NULL || (out == NULL && cap > 0))
        return mcrx__err_set(sub ? &sub->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription and count_out are required, and out when cap > 0");
    ctx = sub->ctx;
    if (ctx != NULL)
        mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&sub->err);
    for (i = 0; i < sub->nifs && i < cap; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].interface_index = sub->ifs[i].index;
        memcpy(out[i].interface_name, sub->ifs[i].name, sizeof out[i].interface_name);
        out[i].joined = sub->ifs[i].joined;
    }
    *count_out = sub->nifs;
    if (ctx != NULL)
        mcrx__mutex_unlock(&ctx->lock);
    return 0;
}
