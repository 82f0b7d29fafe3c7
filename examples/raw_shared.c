/*
 * raw_shared: one shared raw capture for several subscriptions (the Rust
 * crate's shared_raw_capture example; docs/raw.md). Linux, CAP_NET_RAW.
 *
 *   raw_shared <interface> <count> <group>[@<source>] ...
 *
 * Adds and joins one subscription per <group>[@<source>] argument (the
 * same argument twice is two subscriptions: duplicates are allowed), all
 * on <interface> ("-" for the one the kernel routes each group to), prints
 * "ready", then each datagram once with every subscription it matches,
 * until <count> datagrams have arrived or 5 s pass without one:
 *
 *   received 37 raw bytes source=198.51.100.1 group=239.7.2.1 protocol=17 matching [1, 2]
 *
 * At the end it prints the capture's counters: a single capture serves
 * every group of a family on the interface, and a kernel membership is
 * made once per (group, source), however many subscriptions ask for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcrx/raw.h>

#define MAX_IDS 16

int main(int argc, char **argv) {
    static unsigned char buf[MCRX_RAW_MAX_DATAGRAM];
    uint64_t ids[MAX_IDS];
    mcrx_raw_shared *sh;
    mcrx_raw_shared_metrics m;
    long count, received = 0;
    int i, idle_ms = 0, rc = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: %s <interface> <count> <group>[@<source>] ...\n", argv[0]);
        return 2;
    }
    count = strtol(argv[2], NULL, 10);
    sh = mcrx_raw_shared_new(NULL);
    if (sh == NULL) {
        fprintf(stderr, "%s\n", mcrx_last_error());
        return 1;
    }
    for (i = 3; i < argc; i++) {
        char group[128], *source;
        mcrx_raw_config cfg;
        uint64_t id;
        snprintf(group, sizeof group, "%s", argv[i]);
        source = strchr(group, '@');
        if (source != NULL)
            *source++ = '\0';
        mcrx_raw_config_init(&cfg);
        if (mcrx_raw_config_parse(&cfg, group, source,
                                  strcmp(argv[1], "-") ? argv[1] : NULL) != MCRX_ERROR_NONE) {
            fprintf(stderr, "%s: %s\n", argv[i], mcrx_last_error());
            mcrx_raw_shared_free(sh);
            return 2;
        }
        if (mcrx_raw_shared_add(sh, &cfg, &id) != 0 ||
            mcrx_raw_shared_join_subscription(sh, id) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], mcrx_raw_shared_last_error(sh)); /* CAP_NET_RAW */
            mcrx_raw_shared_free(sh);
            return 1;
        }
        printf("subscription %llu: %s%s%s\n", (unsigned long long)id, group,
               source ? " from " : " (any source)", source ? source : "");
    }
    printf("ready\n");
    fflush(stdout);

    while (received < count && idle_ms < 5000) {
        mcrx_raw_packet p;
        size_t got = 0, k;
        int ready = 0;
        mcrx_raw_packet_init(&p, buf, sizeof buf);
        p.ids = ids;
        p.ids_cap = MAX_IDS;
        if (mcrx_raw_shared_recv(sh, &p, &got) != 0) {
            fprintf(stderr, "receive: %s\n", mcrx_raw_shared_last_error(sh));
            rc = 1;
            break;
        }
        if (got == 1) {
            char src[MCRX_IP_STRLEN], grp[MCRX_IP_STRLEN];
            mcrx_ip_format(&p.source, src, sizeof src);
            mcrx_ip_format(&p.group, grp, sizeof grp);
            printf("received %zu raw bytes source=%s group=%s protocol=%u matching [", p.len, src,
                   grp, p.ip_protocol);
            /* nids is the full count; ids holds at most ids_cap of them. */
            for (k = 0; k < p.nids && k < MAX_IDS; k++)
                printf("%s%llu", k ? ", " : "", (unsigned long long)ids[k]);
            printf("%s]\n", (p.flags & MCRX_RAW_IDS_TRUNCATED) ? ", ..." : "");
            fflush(stdout);
            received++;
            idle_ms = 0;
            continue;
        }
        if (mcrx_raw_shared_wait(sh, 100, &ready) != 0) {
            fprintf(stderr, "wait: %s\n", mcrx_raw_shared_last_error(sh));
            rc = 1;
            break;
        }
        if (!ready)
            idle_ms += 100;
    }
    if (mcrx_raw_shared_metrics_get(sh, &m) == 0)
        printf("captures=%llu memberships=%llu received=%llu unmatched=%llu matches=%llu\n",
               (unsigned long long)m.capture_sockets, (unsigned long long)m.active_memberships,
               (unsigned long long)m.received_packets, (unsigned long long)m.unmatched_packets,
               (unsigned long long)m.demultiplex_matches);
    mcrx_raw_shared_free(sh);
    return rc;
}
