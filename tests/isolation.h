/*
 * The isolation engine shared by the isolation test matrix and the soak:
 * streams of sequence-numbered datagrams from the sender host, subscriptions
 * in one or several receiver processes, foreign sockets of "other programs"
 * on the same port, and a per (subscription, stream) account of what arrived
 * against what a model of the promise says should.
 */
#ifndef MCRX_TEST_ISOLATION_H
#define MCRX_TEST_ISOLATION_H

#include <stdint.h>
#include <stdio.h>

#define ISO_MAX_STREAMS 24
#define ISO_MAX_SUBS 16

/* Datagrams sent by one sender socket to one destination. */
typedef struct iso_stream {
    const char *src;    /* sender address (bound) */
    int link;           /* 1: va -> vb, 2: va2 -> vb2 */
    const char *dst;    /* a group, or a receiver address (unicast) */
    int other_port;     /* 1: sent to port + 1 */
} iso_stream;

/* A subscription in each receiver process. */
typedef struct iso_sub {
    const char *group;
    const char *source; /* NULL: ASM */
    const char *iface;  /* NULL, or an interface address/index text */
    int link;           /* the link it must receive on: 1 or 2 (no iface: 1, the default route) */
} iso_sub;

/* Foreign sockets the parent process opens on the port before the library does. */
enum {
    ISO_FOREIGN_REUSEADDR = 1,      /* wildcard, SO_REUSEADDR, joined on both links */
    ISO_FOREIGN_REUSEPORT = 2,      /* two wildcard sockets, SO_REUSEADDR + SO_REUSEPORT */
    ISO_FOREIGN_REUSEPORT_GROUP = 4 /* two sockets bound to the first sub's group, both options */
};

typedef struct iso_case {
    const char *name;
    iso_stream streams[ISO_MAX_STREAMS];
    int nstreams;
    iso_sub subs[ISO_MAX_SUBS];
    int nsubs;
    int foreign;        /* ISO_FOREIGN_* bits */
    int processes;      /* receiver processes, each with every sub (>= 1) */
    int rx_options;     /* -1: library default, else MCRX_RX_* bits */
} iso_case;

/* What one subscription of one process saw. */
typedef struct iso_sub_report {
    uint64_t expected;   /* datagrams the model says it must get */
    uint64_t received;   /* all datagrams delivered to it */
    uint64_t foreign;    /* of streams it must not get, or not ours at all */
    uint64_t duplicates;
    uint64_t lost;       /* expected, never delivered */
    uint64_t reordered;  /* arrived after a higher sequence number of its stream */
    uint64_t mislabelled;/* source, group, port or ingress differs from the stream's */
    uint64_t kernel_drops;
} iso_sub_report;

typedef struct iso_report {
    int processes, nsubs;
    uint64_t sent;
    double seconds;
    iso_sub_report subs[8][ISO_MAX_SUBS]; /* [process][sub] */
} iso_report;

/* Sends per_stream datagrams on every stream of c (round-robin, pausing 1 ms
 * every burst rounds) on port, and accounts for them in every receiver.
 * Returns 0, or -1 with a message on stderr when the run itself failed (not
 * when the isolation did: read the report). Needs th_init(). */
int iso_run(const iso_case *c, uint16_t port, uint32_t per_stream, uint32_t burst,
            iso_report *out);

/* Sum of the failure counters (foreign, duplicates, lost, mislabelled). */
uint64_t iso_failures(const iso_report *r);

/* One line per process and subscription. */
void iso_print(FILE *f, const iso_case *c, const iso_report *r);

#endif
