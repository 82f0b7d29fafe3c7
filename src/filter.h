/* Membership as data: a filter state per interface (RFC 3376, 3810, 3678). */
#ifndef MCRX_FILTER_H
#define MCRX_FILTER_H

#include <stddef.h>

#include "mcrx/mcrx.h"

/* Filter modes. */
enum { MCRX__INCLUDE = 0, MCRX__EXCLUDE = 1 };

/*
 * A membership's state on one interface: the group and which sources it
 * accepts. Normalised: ASM is EXCLUDE{} (every source), SSM is INCLUDE{S},
 * and "not a member" is INCLUDE{} (no source). sources points at the
 * owner's array, without duplicates.
 */
typedef struct mcrx__filter {
    mcrx_ip group;
    int mode;
    size_t nsources;
    const mcrx_ip *sources;
} mcrx__filter;

/* The state a config asks for: EXCLUDE{} (ASM), INCLUDE{source} (SSM), or
 * the config's own list (version >= 2, sources_mode INCLUDE or EXCLUDE; the
 * list must be normalised, see mcrx__sources_normalise, and outlive f). one
 * must have room for one address and outlive f. */
void mcrx__filter_of_config(mcrx__filter *f, const mcrx_subscription_config *cfg,
                            mcrx_ip *sources);
struct mcrx__err;

/* Copies in[0..n) into a new array (malloc; NULL when n is 0), sorted by
 * family and bytes, without duplicates, scopes cleared: the one form every
 * comparison and the kernel calls work with. *nout is the count kept.
 * Returns 0, or OUT_OF_MEMORY with the record filled. */
mcrx_error mcrx__sources_normalise(const mcrx_ip *in, size_t n, mcrx_ip **out, size_t *nout,
                                   struct mcrx__err *err);
/* INCLUDE{} for group: no membership. */
void mcrx__filter_none(mcrx__filter *f, const mcrx_ip *group);
/* 1 if f lists source (same family and bytes; the scope is ignored). */
int mcrx__filter_has(const mcrx__filter *f, const mcrx_ip *source);
/* 1 if f lets datagrams from source through: the receive-side check. */
int mcrx__filter_accepts(const mcrx__filter *f, const mcrx_ip *source);
/* 1 if f is INCLUDE{}. */
int mcrx__filter_is_none(const mcrx__filter *f);
/* 1 if a and b are the same state. */
int mcrx__filter_equal(const mcrx__filter *a, const mcrx__filter *b);

/* The membership calls every platform has (RFC 3678's basic and
 * source-specific APIs), one source at a time. */
typedef enum {
    MCRX__OP_ADD_GROUP,   /* join: EXCLUDE{} */
    MCRX__OP_DROP_GROUP,  /* leave an EXCLUDE-mode membership */
    MCRX__OP_ADD_SOURCE,  /* INCLUDE mode: add a source (the first one joins) */
    MCRX__OP_DROP_SOURCE, /* INCLUDE mode: drop a source (the last one leaves) */
    MCRX__OP_BLOCK,       /* EXCLUDE mode: block a source */
    MCRX__OP_UNBLOCK      /* EXCLUDE mode: unblock a source */
} mcrx__member_op;

struct mcrx__err;

/* One membership call on a platform's socket; source is NULL for the group
 * calls. Returns 0 or the kind, the record filled. */
typedef mcrx_error (*mcrx__member_fn)(void *sock, const mcrx_ip *group, const mcrx_ip *source,
                                      mcrx__member_op op, struct mcrx__err *err);

/*
 * Moves one socket's membership of a group on one interface from state
 * `from` to state `to` with the calls above: the difference, computed here
 * once for every platform. A change of mode goes through "no membership";
 * sources are added before others are dropped, so the group is never left
 * in between. On failure the calls already made are undone (best effort) and
 * the failure's kind is returned.
 */
mcrx_error mcrx__filter_apply(const mcrx__filter *from, const mcrx__filter *to,
                              mcrx__member_fn call, void *sock, struct mcrx__err *err);

#endif
