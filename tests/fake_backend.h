/*
 * A receive backend in memory, for tests without a network.
 *
 * fake_backend is a const mcrx__backend: give it to mcrx__context_new_with.
 * Each endpoint it opens has a script: a queue of datagrams (with the
 * receive facts the OS would report beside them) and receive failures, in
 * the order recv() meets them. Its handle is one end of an AF_UNIX
 * socketpair that holds one byte while the queue is not empty, so a real
 * poller (epoll or poll) sees it readable exactly then. No IP socket is
 * opened.
 *
 * Single-threaded: the settings for the next open are a global.
 */
#ifndef MCRX_TEST_FAKE_BACKEND_H
#define MCRX_TEST_FAKE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

extern const mcrx__backend fake_backend;
/* The same, lending views of its memory (MCRX__CAP_VIEWS, recv NULL), as a
 * ring of provided buffers would; each view is valid until the next call. */
extern const mcrx__backend fake_views_backend;

/* What open() puts in the endpoint; fake_open_defaults() sets isolated 1,
 * ifindex 0, cmsgs 1. Used by every open until changed. */
typedef struct fake_open {
    int isolated;
    uint32_t ifindex;
    int cmsgs;      /* 0: recv() reports no receive facts (info stays zero) */
} fake_open;

void fake_open_defaults(void);
void fake_open_set(const fake_open *o);

/* One scripted datagram. payload has wire_len bytes (NULL: bytes 0, 1, 2, ...). */
typedef struct fake_dgram {
    const void *payload;
    size_t wire_len;
    mcrx_ip source;
    uint16_t source_port;
    mcrx__rxinfo info;
} fake_dgram;

/* Appends a datagram to sub's queue. */
void fake_push(mcrx_subscription *sub, const fake_dgram *d);
/* Appends a receive failure: recv() returns it (as mcrx__fail records it)
 * when it is first in the queue, and stops before it when it has already
 * filled slots in that call. */
void fake_push_failure(mcrx_subscription *sub, mcrx_error kind, int os, const char *detail);
/* Entries (datagrams and failures) still queued. */
size_t fake_queued(const mcrx_subscription *sub);

/* The next apply() on sub fails with kind (once) and leaves the state. */
void fake_fail_next_apply(mcrx_subscription *sub, mcrx_error kind, int os, const char *detail);

/* One apply() call: the states it was asked to move between, and what it
 * returned. Sources are copied (at most FAKE_MAX_SOURCES). */
#define FAKE_MAX_SOURCES 4
typedef struct fake_filter {
    mcrx_ip group;
    int mode;
    size_t nsources;
    mcrx_ip sources[FAKE_MAX_SOURCES];
} fake_filter;

typedef struct fake_apply {
    fake_filter from, to;
    uint32_t ifindex; /* the interface named (interface sets), 0 = the endpoint's */
    mcrx_error rc;
} fake_apply;

/* sub's apply() calls, oldest first; *n gets their number. */
const fake_apply *fake_applies(const mcrx_subscription *sub, size_t *n);

/* recv() calls on sub so far, and the largest n one was asked for. */
size_t fake_recv_calls(const mcrx_subscription *sub, size_t *max_n);

#endif
