/* mcrx_recv --stats and --pcap (recv_stats.c). */
#ifndef MCRX_TOOL_RECV_STATS_H
#define MCRX_TOOL_RECV_STATS_H

#include <stdio.h>

#include <mcrx/mcrx.h>

#include "stream_stats.h"

#define MCRX_TOOL_STATS_MAX_STREAMS 1024

/* One (source address:port, group:port) stream. */
typedef struct mcrx_tool_stats_stream {
    mcrx_ip src, group;
    uint16_t sport, dport;
    mcrx_tool_stream s;
    mcrx_tool_stream_counters prev; /* at the last interval line */
    uint64_t prev_kdrops;
    int64_t first_rx_ns, last_rx_ns;
    uint8_t ttl;
    int has_ttl, has_if, summarized;
    uint32_t ifindex;
} mcrx_tool_stats_stream;

typedef struct mcrx_tool_stats {
    FILE *out;
    int json;
    double every;      /* interval lines every this many seconds; 0 = none */
    double next_due;   /* monotonic, -1 = never */
    double last_tick, join_mono;
    int64_t join_ns;   /* realtime at the join */
    mcrx_tool_stats_stream *v;
    size_t n, cap;
    uint64_t kdrops;   /* the socket's drop count (SO_RXQ_OVFL), shared by its streams */
    int have_kdrops, overflow_warned;
    uint64_t data_datagrams;
} mcrx_tool_stats;

void mcrx_tool_stats_init(mcrx_tool_stats *st, FILE *out, int json, double every, int64_t join_ns,
                          double join_mono);
/* Accounts one datagram (end markers print their stream's summary); returns 1
 * when every stream with sequence numbers has ended. */
int mcrx_tool_stats_add(mcrx_tool_stats *st, const mcrx_datagram *dg);
/* Seconds until the next interval line (0 = now), -1 if none. */
double mcrx_tool_stats_left(const mcrx_tool_stats *st, double now);
void mcrx_tool_stats_tick(mcrx_tool_stats *st, double now);
/* Summaries of the streams that have none yet. */
void mcrx_tool_stats_finish(mcrx_tool_stats *st);
void mcrx_tool_stats_free(mcrx_tool_stats *st);

typedef struct mcrx_tool_pcap {
    FILE *f;
    unsigned long long written, skipped;
} mcrx_tool_pcap;

int mcrx_tool_pcap_open(mcrx_tool_pcap *pc, const char *path);
int mcrx_tool_pcap_write(mcrx_tool_pcap *pc, const mcrx_datagram *dg);
int mcrx_tool_pcap_close(mcrx_tool_pcap *pc);

#endif
