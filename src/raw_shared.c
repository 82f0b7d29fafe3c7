/*
 * Shared raw capture (include/mcrx/raw.h, mcrx_raw_shared): one capture per
 * (family, interface), one kernel membership per (group, source) on it,
 * counted by the subscriptions that joined it. A datagram is read once and
 * matched against the memberships of its capture: the any-source one of its
 * group and the one of its group and source; their id lists (ascending)
 * merge into the slot's ids.
 *
 * recv_batch reads straight into the caller's slots. recv (one slot) reads
 * a batch with one system call into the pending queue and hands it out over
 * the following calls: the queue holds at most max_pending_packets, exists
 * only while datagrams flow (freed when a receive finds nothing), and a
 * leave drops its id from queued datagrams, as the crate does.
 */
#include <stdlib.h>
#include <string.h>

#include "raw_internal.h"
#include "platform/raw.h"

/* A kernel membership on a capture and the joined subscriptions using it. */
typedef struct sh_member {
    mcrx_ip group, source;     /* source NONE: any source */
    uint64_t *ids;             /* ascending */
    size_t nids, capids;
} sh_member;

/* A capture key: (family, interface) and, once a subscription joined, its
 * capture and membership socket. */
typedef struct sh_cap {
    mcrx__watch watch;         /* first: what the poller reports */
    int family;
    uint32_t ifindex;
    mcrx_ip ifaddr;            /* IPv4 joins name the interface by address */
    size_t users;              /* subscriptions (either state) with this key */
    mcrx__rawcap *cap;         /* NULL until the first join */
    mcrx_sock msock;
    int in_poller;
    sh_member *members;
    size_t nmembers, capmembers;
} sh_cap;

typedef struct sh_sub {
    uint64_t id;
    mcrx_subscription_config cfg;
    int state;
    sh_cap *key;
} sh_sub;

struct McrxRawShared {
    mcrx_raw_shared_limits limits;
    mcrx__err err;
    uint64_t next_id;
    sh_sub *subs;              /* ascending id */
    size_t nsubs, capsubs;
    sh_cap **caps;
    size_t ncaps, capcaps, cursor;
    mcrx__poller *poller;
    uint64_t received, unmatched, matches, drops_closed;
    /* The pending queue: qcap slots of qslot bytes each in qmem; each slot
     * owns its ids array (ids, ids_cap), grown to the datagram's matches. */
    mcrx_raw_packet *q;
    unsigned char *qmem;
    size_t qcap, qslot, qhead, qlen;
};

void mcrx_raw_shared_limits_init(mcrx_raw_shared_limits *l) {
    if (l == NULL)
        return;
    memset(l, 0, sizeof *l);
    l->version = MCRX_RAW_SHARED_LIMITS_VERSION;
    l->max_subscriptions = 4096;
    l->max_pending_packets = 1024;
}

mcrx_raw_shared *mcrx_raw_shared_new(const mcrx_raw_shared_limits *limits) {
    mcrx_raw_shared *sh;
    mcrx_raw_shared_limits l;
    mcrx_raw_shared_limits_init(&l);
    if (limits != NULL) {
        if (limits->version != MCRX_RAW_SHARED_LIMITS_VERSION || limits->max_subscriptions == 0 ||
            limits->max_pending_packets == 0) {
            mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_SHARED_RAW_CAPTURE_LIMITS, 0,
                          "max_subscriptions %u, max_pending_packets %u (set up the struct "
                          "with mcrx_raw_shared_limits_init)",
                          limits->max_subscriptions, limits->max_pending_packets);
            return NULL;
        }
        l = *limits;
    }
    sh = calloc(1, sizeof *sh);
    if (sh == NULL) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "shared raw capture");
        return NULL;
    }
    if (mcrx__poller_open(&sh->poller, mcrx__tls_err()) != 0) {
        free(sh);
        return NULL;
    }
    sh->limits = l;
    sh->next_id = 1;
    mcrx__err_clear(mcrx__tls_err());
    return sh;
}

static void cap_close(mcrx_raw_shared *sh, sh_cap *c) {
    if (c->in_poller)
        sh->poller->ops->del(sh->poller, &c->watch);
    c->in_poller = 0;
    if (c->cap != NULL)
        sh->drops_closed += mcrx__rawcap_drops(c->cap);
    mcrx__rawcap_close(c->cap);
    mcrx__rawmember_close(c->msock);
    c->cap = NULL;
    c->msock = MCRX_SOCK_INVALID;
}

static void cap_free(mcrx_raw_shared *sh, sh_cap *c) {
    size_t i;
    cap_close(sh, c);
    for (i = 0; i < c->nmembers; i++)
        free(c->members[i].ids);
    free(c->members);
    free(c);
}

static void q_release(mcrx_raw_shared *sh) {
    size_t i;
    for (i = 0; i < sh->qcap; i++)
        free(sh->q[i].ids);
    free(sh->q);
    free(sh->qmem);
    sh->q = NULL;
    sh->qmem = NULL;
    sh->qcap = sh->qslot = sh->qhead = sh->qlen = 0;
}

void mcrx_raw_shared_free(mcrx_raw_shared *sh) {
    size_t i;
    if (sh == NULL)
        return;
    q_release(sh);
    for (i = 0; i < sh->ncaps; i++)
        cap_free(sh, sh->caps[i]);
    free(sh->caps);
    free(sh->subs);
    sh->poller->ops->close(sh->poller);
    free(sh);
}

const char *mcrx_raw_shared_last_error(const mcrx_raw_shared *sh) {
    return sh != NULL ? sh->err.msg : mcrx__tls_err()->msg;
}

mcrx_error mcrx_raw_shared_last_error_code(const mcrx_raw_shared *sh) {
    return sh != NULL ? sh->err.code : mcrx__tls_err()->code;
}

int mcrx_raw_shared_last_os_error(const mcrx_raw_shared *sh) {
    return sh != NULL ? sh->err.os : mcrx__tls_err()->os;
}

static int null_sh(void) {
    return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                         "shared raw capture is NULL");
}

/* ---- lookup --------------------------------------------------------------------- */

static sh_sub *find_sub(const mcrx_raw_shared *sh, uint64_t id) {
    size_t lo = 0, hi = sh->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sh->subs[mid].id == id)
            return &sh->subs[mid];
        if (sh->subs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static sh_sub *lookup(mcrx_raw_shared *sh, uint64_t id) {
    sh_sub *s = find_sub(sh, id);
    if (s == NULL)
        mcrx__err_set(&sh->err, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND, 0, "id %llu",
                      (unsigned long long)id);
    return s;
}

size_t mcrx_raw_shared_subscription_count(const mcrx_raw_shared *sh) {
    return sh != NULL ? sh->nsubs : 0;
}

int mcrx_raw_shared_contains_subscription(const mcrx_raw_shared *sh, uint64_t id) {
    return sh != NULL && find_sub(sh, id) != NULL;
}

int mcrx_raw_shared_subscription_state(const mcrx_raw_shared *sh, uint64_t id) {
    const sh_sub *s = sh != NULL ? find_sub(sh, id) : NULL;
    return s != NULL ? s->state : 0;
}

static sh_member *find_member(sh_cap *c, const mcrx_ip *group, const mcrx_ip *source) {
    size_t i;
    for (i = 0; i < c->nmembers; i++) {
        sh_member *m = &c->members[i];
        if (mcrx_ip_equal(&m->group, group) && m->source.family == source->family &&
            (source->family == MCRX_IP_NONE || mcrx_ip_equal(&m->source, source)))
            return m;
    }
    return NULL;
}

/* ---- add --------------------------------------------------------------------------- */

static sh_cap *key_for(mcrx_raw_shared *sh, int family, uint32_t ifindex, const mcrx_ip *ifaddr) {
    sh_cap *c;
    size_t i;
    for (i = 0; i < sh->ncaps; i++)
        if (sh->caps[i]->family == family && sh->caps[i]->ifindex == ifindex)
            return sh->caps[i];
    if (sh->ncaps == sh->capcaps) {
        size_t cap = sh->capcaps ? sh->capcaps * 2 : 4;
        sh_cap **caps = realloc(sh->caps, cap * sizeof *caps);
        if (caps == NULL)
            return NULL;
        sh->caps = caps;
        sh->capcaps = cap;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->family = family;
    c->ifindex = ifindex;
    c->ifaddr = *ifaddr;
    c->msock = MCRX_SOCK_INVALID;
    c->watch.kind = MCRX__WATCH_SUBSCRIPTION;
    sh->caps[sh->ncaps++] = c;
    return c;
}

static void key_release(mcrx_raw_shared *sh, sh_cap *c) {
    size_t i;
    if (--c->users > 0)
        return;
    for (i = 0; i < sh->ncaps && sh->caps[i] != c; i++)
        ;
    memmove(&sh->caps[i], &sh->caps[i + 1], (sh->ncaps - i - 1) * sizeof sh->caps[0]);
    sh->ncaps--;
    if (sh->cursor >= sh->ncaps)
        sh->cursor = 0;
    cap_free(sh, c);
}

static int add_locked(mcrx_raw_shared *sh, const mcrx_raw_config *rcfg, uint64_t *id_out) {
    mcrx_subscription_config cfg;
    uint32_t ifindex = 0;
    mcrx_ip ifaddr;
    sh_cap *key;
    sh_sub *s;
    if (mcrx_raw_config_validate(rcfg) != MCRX_ERROR_NONE)
        return mcrx__err_copy(&sh->err, mcrx__tls_err());
    if (sh->nsubs >= sh->limits.max_subscriptions)
        return mcrx__err_set(&sh->err, MCRX_ERROR_SHARED_RAW_CAPTURE_SUBSCRIPTION_LIMIT_EXCEEDED,
                             0, "limit %u", sh->limits.max_subscriptions);
    mcrx__raw_to_sub_config(rcfg, &cfg);
    if (mcrx__raw_resolve(&cfg, 1, &ifindex, &ifaddr, &sh->err) != 0)
        return mcrx__status_of(sh->err.code);
    if (sh->nsubs == sh->capsubs) {
        size_t cap = sh->capsubs ? sh->capsubs * 2 : 8;
        sh_sub *subs = realloc(sh->subs, cap * sizeof *subs);
        if (subs == NULL)
            return mcrx__err_set(&sh->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "subscriptions");
        sh->subs = subs;
        sh->capsubs = cap;
    }
    key = key_for(sh, cfg.group.family, ifindex, &ifaddr);
    if (key == NULL)
        return mcrx__err_set(&sh->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "capture key");
    key->users++;
    s = &sh->subs[sh->nsubs++];
    memset(s, 0, sizeof *s);
    s->id = sh->next_id++;
    s->cfg = cfg;
    s->state = MCRX_STATE_BOUND;
    s->key = key;
    *id_out = s->id;
    return 0;
}

int mcrx_raw_shared_add(mcrx_raw_shared *sh, const mcrx_raw_config *cfg, uint64_t *id_out) {
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    if (cfg == NULL || id_out == NULL)
        return mcrx__err_set(&sh->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "config and id_out are required");
    return add_locked(sh, cfg, id_out);
}

/* ---- join and leave ------------------------------------------------------------------ */

/* rx and rcvbuf: the first joining subscription's config asks for them. */
static int cap_open(mcrx_raw_shared *sh, sh_cap *c, uint32_t rx, uint32_t rcvbuf) {
    if (mcrx__rawcap_open(c->family, NULL, NULL, rx, rcvbuf, &c->cap, &sh->err) != 0 ||
        mcrx__rawmember_open(c->family, &c->msock, &sh->err) != 0 ||
        mcrx__rawcap_start(c->cap, c->ifindex, &sh->err) != 0)
        goto fail;
    c->watch.handle = mcrx__rawcap_handle(c->cap);
    if (sh->poller->ops->add(sh->poller, &c->watch, &sh->err) != 0)
        goto fail;
    c->in_poller = 1;
    return 0;
fail:
    cap_close(sh, c);
    return mcrx__status_of(sh->err.code);
}

static int ids_insert(sh_member *m, uint64_t id) {
    size_t i;
    if (m->nids == m->capids) {
        size_t cap = m->capids ? m->capids * 2 : 4;
        uint64_t *ids = realloc(m->ids, cap * sizeof *ids);
        if (ids == NULL)
            return -1;
        m->ids = ids;
        m->capids = cap;
    }
    for (i = m->nids; i > 0 && m->ids[i - 1] > id; i--)
        m->ids[i] = m->ids[i - 1];
    m->ids[i] = id;
    m->nids++;
    return 0;
}

static void ids_remove(sh_member *m, uint64_t id) {
    size_t i;
    for (i = 0; i < m->nids && m->ids[i] != id; i++)
        ;
    if (i == m->nids)
        return;
    memmove(&m->ids[i], &m->ids[i + 1], (m->nids - i - 1) * sizeof m->ids[0]);
    m->nids--;
}

static int join_locked(mcrx_raw_shared *sh, sh_sub *s) {
    sh_cap *c = s->key;
    sh_member *m;
    int fresh = c->cap == NULL;
    if (s->state == MCRX_STATE_JOINED)
        return mcrx__err_set(&sh->err, MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED, 0, "id %llu",
                             (unsigned long long)s->id);
    if (fresh && cap_open(sh, c, s->cfg.rx_options, s->cfg.rcvbuf_bytes) != 0)
        return mcrx__status_of(sh->err.code);
    m = find_member(c, &s->cfg.group, &s->cfg.source);
    if (m == NULL) {
        mcrx__filter none, to;
        mcrx_ip srcs[1];
        if (c->nmembers == c->capmembers) {
            size_t cap = c->capmembers ? c->capmembers * 2 : 4;
            sh_member *ms = realloc(c->members, cap * sizeof *ms);
            if (ms == NULL) {
                mcrx__err_set(&sh->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "memberships");
                goto fail;
            }
            c->members = ms;
            c->capmembers = cap;
        }
        mcrx__filter_none(&none, &s->cfg.group);
        mcrx__filter_of_config(&to, &s->cfg, srcs);
        if (mcrx__rawmember_apply(c->msock, c->ifindex, &c->ifaddr, &none, &to, &sh->err) != 0)
            goto fail;
        m = &c->members[c->nmembers++];
        memset(m, 0, sizeof *m);
        m->group = s->cfg.group;
        m->source = s->cfg.source;
    }
    if (ids_insert(m, s->id) != 0) {
        mcrx__err_set(&sh->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "membership ids");
        if (m->nids == 0) {
            mcrx__filter none, from;
            mcrx_ip srcs[1];
            mcrx__err ignored;
            mcrx__filter_none(&none, &s->cfg.group);
            mcrx__filter_of_config(&from, &s->cfg, srcs);
            mcrx__rawmember_apply(c->msock, c->ifindex, &c->ifaddr, &from, &none, &ignored);
            free(m->ids);
            c->nmembers--;
        }
        goto fail;
    }
    s->state = MCRX_STATE_JOINED;
    return 0;
fail:
    if (fresh && c->nmembers == 0)
        cap_close(sh, c); /* a failed first join leaves no capture behind */
    return mcrx__status_of(sh->err.code);
}

/* Takes id out of the queued datagrams: one only id matched is dropped, else
 * its subscription_id moves to the next smallest (the crate's rule). */
static void q_forget(mcrx_raw_shared *sh, uint64_t id) {
    size_t i, k = 0;
    for (i = 0; i < sh->qlen; i++) {
        mcrx_raw_packet *e = &sh->q[sh->qhead + i];
        size_t j;
        for (j = 0; j < e->nids && e->ids[j] != id; j++)
            ;
        if (j < e->nids) {
            memmove(&e->ids[j], &e->ids[j + 1], (e->nids - j - 1) * sizeof e->ids[0]);
            e->nids--;
            if (e->nids > 0)
                e->subscription_id = e->ids[0];
        }
        if (e->nids == 0)
            continue;
        if (k != i) { /* keep order; the dropped slot (buffer, ids) moves back */
            mcrx_raw_packet t = sh->q[sh->qhead + k];
            sh->q[sh->qhead + k] = *e;
            *e = t;
        }
        k++;
    }
    sh->qlen = k;
}

static int leave_locked(mcrx_raw_shared *sh, sh_sub *s) {
    sh_cap *c = s->key;
    sh_member *m;
    if (s->state != MCRX_STATE_JOINED)
        return mcrx__err_set(&sh->err, MCRX_ERROR_SUBSCRIPTION_NOT_JOINED, 0, "id %llu",
                             (unsigned long long)s->id);
    m = find_member(c, &s->cfg.group, &s->cfg.source);
    if (m != NULL && m->nids == 1) {
        mcrx__filter none, from;
        mcrx_ip srcs[1];
        mcrx__filter_none(&none, &s->cfg.group);
        mcrx__filter_of_config(&from, &s->cfg, srcs);
        if (mcrx__rawmember_apply(c->msock, c->ifindex, &c->ifaddr, &from, &none, &sh->err) != 0)
            return mcrx__status_of(sh->err.code);
        free(m->ids);
        *m = c->members[--c->nmembers];
    } else if (m != NULL) {
        ids_remove(m, s->id);
    }
    s->state = MCRX_STATE_BOUND;
    q_forget(sh, s->id);
    if (c->nmembers == 0)
        cap_close(sh, c);
    return 0;
}

int mcrx_raw_shared_join_subscription(mcrx_raw_shared *sh, uint64_t id) {
    sh_sub *s;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    s = lookup(sh, id);
    return s != NULL ? join_locked(sh, s) : MCRX_STATUS_ERROR;
}

int mcrx_raw_shared_leave_subscription(mcrx_raw_shared *sh, uint64_t id) {
    sh_sub *s;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    s = lookup(sh, id);
    return s != NULL ? leave_locked(sh, s) : MCRX_STATUS_ERROR;
}

int mcrx_raw_shared_remove_subscription(mcrx_raw_shared *sh, uint64_t id) {
    sh_sub *s;
    sh_cap *key;
    size_t i;
    int rc;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    s = lookup(sh, id);
    if (s == NULL)
        return MCRX_STATUS_ERROR;
    if (s->state == MCRX_STATE_JOINED && (rc = leave_locked(sh, s)) != 0)
        return rc;
    key = s->key;
    i = (size_t)(s - sh->subs);
    memmove(&sh->subs[i], &sh->subs[i + 1], (sh->nsubs - i - 1) * sizeof sh->subs[0]);
    sh->nsubs--;
    key_release(sh, key);
    return 0;
}

/* ---- receive ------------------------------------------------------------------------- */

/* Writes the merge of the two ascending lists into p's ids; returns the
 * count (all of it, even beyond ids_cap). */
static size_t merge_ids(mcrx_raw_packet *p, const sh_member *a, const sh_member *b) {
    size_t i = 0, j = 0, n = 0, na = a ? a->nids : 0, nb = b ? b->nids : 0;
    while (i < na || j < nb) {
        uint64_t v = (j >= nb || (i < na && a->ids[i] < b->ids[j])) ? a->ids[i++] : b->ids[j++];
        if (n == 0)
            p->subscription_id = v;
        if (n < p->ids_cap && p->ids != NULL)
            p->ids[n] = v;
        n++;
    }
    return n;
}

static void swap_dg(mcrx_datagram *a, mcrx_datagram *b) {
    mcrx_datagram t = *a;
    *a = *b;
    *b = t;
}

/* Reads from capture c into pkts[0..n): the slots kept in *kept, and
 * *drained 1 when the capture had no more. own_ids (the queue): each slot's
 * ids array is its own, grown to hold every match. Returns the status. */
static int drain_cap(mcrx_raw_shared *sh, sh_cap *c, mcrx_raw_packet *pkts, size_t n,
                     int own_ids, size_t *kept, size_t *reads, int *drained) {
    mcrx_datagram dgs[MCRX__RX_CHUNK];
    mcrx__rxinfo info[MCRX__RX_CHUNK];
    uint64_t *ids[MCRX__RX_CHUNK];
    size_t idcap[MCRX__RX_CHUNK];
    size_t got = 0, i, k = 0;
    static const mcrx_ip any;
    if (n > MCRX__RX_CHUNK)
        n = MCRX__RX_CHUNK;
    for (i = 0; i < n; i++) {
        mcrx_datagram_init(&dgs[i], pkts[i].buf, pkts[i].cap);
        ids[i] = pkts[i].ids;
        idcap[i] = pkts[i].ids_cap;
    }
    memset(info, 0, n * sizeof info[0]);
    if (mcrx__rawcap_recv(c->cap, dgs, info, n, &got, &sh->err) != 0)
        return mcrx__status_of(sh->err.code);
    *reads += got;
    for (i = 0; i < got; i++) {
        const sh_member *ma = NULL, *ms = NULL;
        mcrx_raw_packet *p;
        size_t nids;
        sh->received++;
        if (info[i].valid & MCRX_META_DESTINATION) {
            ma = find_member(c, &info[i].dst, &any);
            ms = find_member(c, &info[i].dst, &dgs[i].source);
        }
        if ((ma == NULL || ma->nids == 0) && (ms == NULL || ms->nids == 0)) {
            sh->unmatched++;
            continue;
        }
        if (k != i)
            swap_dg(&dgs[k], &dgs[i]);
        dgs[k].group = info[i].dst;
        p = &pkts[k];
        {
            mcrx_metadata m;
            memset(&m, 0, sizeof m);
            m.valid = info[i].valid;
            m.ttl = info[i].ttl;
            m.ingress_interface_index = info[i].ifindex;
            m.rx_timestamp_ns = info[i].ts_ns;
            m.kernel_drops = info[i].drops;
            mcrx__raw_fill_packet(p, &dgs[k], &m);
        }
        if (own_ids) {
            size_t want = (ma ? ma->nids : 0) + (ms ? ms->nids : 0);
            if (want > idcap[k]) {
                uint64_t *grown = realloc(ids[k], want * sizeof *grown);
                if (grown == NULL) {
                    /* This datagram is lost; the kept ones are delivered. */
                    mcrx__err_set(&sh->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "pending ids");
                    break;
                }
                ids[k] = grown;
                idcap[k] = want;
            }
        }
        p->ids = ids[k];
        p->ids_cap = idcap[k];
        nids = merge_ids(p, ma, ms);
        p->nids = nids;
        if (nids > p->ids_cap)
            p->flags |= MCRX_RAW_IDS_TRUNCATED;
        sh->matches += nids;
        k++;
    }
    /* Slots past the kept ones keep a consistent buffer (and ids) each. */
    for (i = k; i < n; i++) {
        pkts[i].buf = dgs[i].buf;
        pkts[i].cap = dgs[i].cap;
        pkts[i].ids = ids[i];
        pkts[i].ids_cap = idcap[i];
    }
    *kept = k;
    *drained = got < n;
    return sh->err.code == MCRX_ERROR_NONE ? 0 : mcrx__status_of(sh->err.code);
}

/* Reads up to n datagrams from the captures, each in turn, drained until
 * empty or the slots are full; unmatched reads are bounded by the discard
 * budget. A capture's failure after some slots were filled is dropped
 * (the next call meets it again): *filled is what is there. */
static int read_caps(mcrx_raw_shared *sh, mcrx_raw_packet *pkts, size_t n, int own_ids,
                     size_t *filled_out) {
    size_t filled = 0, reads = 0, visits = 0;
    int rc;
    while (filled < n && visits < sh->ncaps && reads < n + MCRX__DISCARD_BUDGET) {
        sh_cap *c = sh->caps[sh->cursor];
        size_t kept = 0;
        int drained = 1;
        if (c->cap != NULL) {
            rc = drain_cap(sh, c, pkts + filled, n - filled, own_ids, &kept, &reads, &drained);
            if (rc != 0) {
                filled += kept;
                *filled_out = filled;
                sh->cursor = (sh->cursor + 1) % sh->ncaps;
                if (filled > 0)
                    mcrx__err_clear(&sh->err);
                return filled > 0 ? 0 : rc;
            }
        }
        filled += kept;
        if (drained) {
            visits++;
            sh->cursor = (sh->cursor + 1) % sh->ncaps;
        }
    }
    *filled_out = filled;
    return 0;
}

/* Hands the oldest queued datagram to the caller's slot p (cut to its cap,
 * ids to its ids_cap, each flagged). */
static void q_pop(mcrx_raw_shared *sh, mcrx_raw_packet *p) {
    mcrx_raw_packet *e = &sh->q[sh->qhead], t = *e;
    size_t k;
    t.buf = p->buf;
    t.cap = p->cap;
    t.ids = p->ids;
    t.ids_cap = p->ids_cap;
    t.len = e->len < p->cap ? e->len : p->cap;
    memcpy(t.buf, e->buf, t.len);
    if (t.len < e->len)
        t.flags |= MCRX_DATAGRAM_TRUNCATED;
    t.flags &= ~MCRX_RAW_IDS_TRUNCATED;
    for (k = 0; k < e->nids && t.ids != NULL && k < t.ids_cap; k++)
        t.ids[k] = e->ids[k];
    if (e->nids > t.ids_cap || t.ids == NULL)
        t.flags |= MCRX_RAW_IDS_TRUNCATED;
    *p = t;
    sh->qhead++;
    sh->qlen--;
    if (sh->qlen == 0)
        sh->qhead = 0;
}

/* Refills the empty queue with one read pass: slots as large as the
 * caller's (a datagram handed later to a smaller slot is cut there). */
static int q_fill(mcrx_raw_shared *sh, size_t slot) {
    size_t want = sh->limits.max_pending_packets < MCRX__RX_CHUNK - 1
                      ? (size_t)sh->limits.max_pending_packets + 1
                      : MCRX__RX_CHUNK;
    size_t i, got = 0;
    int rc;
    if (slot > MCRX_RAW_MAX_DATAGRAM)
        slot = MCRX_RAW_MAX_DATAGRAM;
    if (sh->q != NULL && sh->qslot < slot)
        q_release(sh); /* a larger caller slot: regrow */
    if (sh->q == NULL) {
        sh->q = calloc(want, sizeof *sh->q);
        sh->qmem = malloc(want * slot);
        if (sh->q == NULL || sh->qmem == NULL) {
            free(sh->q);
            free(sh->qmem);
            sh->q = NULL;
            sh->qmem = NULL;
            return mcrx__err_set(&sh->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "pending queue");
        }
        sh->qcap = want;
        sh->qslot = slot;
    }
    for (i = 0; i < sh->qcap; i++) {
        uint64_t *ids = sh->q[i].ids;
        size_t idcap = sh->q[i].ids_cap;
        mcrx_raw_packet_init(&sh->q[i], sh->qmem + i * sh->qslot, sh->qslot);
        sh->q[i].ids = ids;
        sh->q[i].ids_cap = idcap;
    }
    sh->qhead = 0;
    rc = read_caps(sh, sh->q, sh->qcap, 1, &got);
    sh->qlen = got;
    return rc;
}

int mcrx_raw_shared_recv_batch(mcrx_raw_shared *sh, mcrx_raw_packet *pkts, size_t n,
                               size_t *received_out) {
    size_t filled = 0, got = 0;
    int rc;
    if (received_out != NULL)
        *received_out = 0;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    if (pkts == NULL || received_out == NULL)
        return mcrx__err_set(&sh->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "packets and received_out are required");
    rc = mcrx__raw_check_slots(pkts, n, &sh->err);
    if (rc != 0)
        return rc;
    if (n > sh->limits.max_pending_packets)
        n = sh->limits.max_pending_packets;
    /* Queued datagrams are older than the kernel's: first. */
    while (filled < n && sh->qlen > 0)
        q_pop(sh, &pkts[filled++]);
    rc = read_caps(sh, pkts + filled, n - filled, 0, &got);
    *received_out = filled + got;
    if (rc != 0 && filled > 0) {
        mcrx__err_clear(&sh->err); /* the next call meets the failure again */
        rc = 0;
    }
    return rc;
}

int mcrx_raw_shared_recv(mcrx_raw_shared *sh, mcrx_raw_packet *pkt, size_t *received_out) {
    int rc;
    if (received_out != NULL)
        *received_out = 0;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    if (pkt == NULL || received_out == NULL)
        return mcrx__err_set(&sh->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "packet and received_out are required");
    rc = mcrx__raw_check_slots(pkt, 1, &sh->err);
    if (rc != 0)
        return rc;
    if (sh->qlen == 0) {
        if (sh->q == NULL) {
            /* No queue memory yet: ask the poller first, so an idle capture
             * polled in a loop costs no allocation per call. */
            mcrx__watch *ready[1];
            int nready = 0;
            if (sh->poller->ops->wait(sh->poller, NULL, ready, 1, 0, &nready, &sh->err) != 0)
                return mcrx__status_of(sh->err.code);
            if (nready == 0)
                return 0;
        }
        rc = q_fill(sh, pkt->cap);
        if (sh->qlen == 0) {
            q_release(sh); /* nothing flows: no memory held */
            return rc;
        }
        mcrx__err_clear(&sh->err);
    }
    q_pop(sh, pkt);
    *received_out = 1;
    return 0;
}

mcrx_sock mcrx_raw_shared_fd(const mcrx_raw_shared *sh) {
    return sh != NULL ? sh->poller->ops->fd(sh->poller) : MCRX_SOCK_INVALID;
}

int mcrx_raw_shared_wait(mcrx_raw_shared *sh, int timeout_ms, int *ready_out) {
    mcrx__watch *ready[1];
    int n = 0;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    if (ready_out == NULL)
        return mcrx__err_set(&sh->err, MCRX_ERROR_INVALID_ARGUMENT, 0, "ready_out is required");
    *ready_out = 0;
    if (sh->qlen > 0) { /* queued: no need to ask the kernel */
        *ready_out = 1;
        return 0;
    }
    if (sh->poller->ops->wait(sh->poller, NULL, ready, 1, timeout_ms, &n, &sh->err) != 0)
        return mcrx__status_of(sh->err.code);
    *ready_out = n > 0;
    return 0;
}

int mcrx_raw_shared_metrics_get(mcrx_raw_shared *sh, mcrx_raw_shared_metrics *out) {
    size_t i;
    if (sh == NULL)
        return null_sh();
    mcrx__err_clear(&sh->err);
    if (out == NULL)
        return mcrx__err_set(&sh->err, MCRX_ERROR_INVALID_ARGUMENT, 0, "out is required");
    memset(out, 0, sizeof *out);
    out->kernel_drops = sh->drops_closed;
    for (i = 0; i < sh->ncaps; i++) {
        sh_cap *c = sh->caps[i];
        if (c->cap == NULL)
            continue;
        out->capture_sockets++;
        out->active_memberships += c->nmembers;
        out->kernel_drops += mcrx__rawcap_drops(c->cap);
    }
    out->received_packets = sh->received;
    out->unmatched_packets = sh->unmatched;
    out->demultiplex_matches = sh->matches;
    out->pending_packets = sh->qlen;
    return 0;
}
