/*
 * Stream statistics for the receivers, pure logic (no I/O, no POSIX): the
 * sequence headers mcrx_send --seq and iperf 2 put at the start of each
 * payload, per-stream accounting (gaps, duplicates, reordering, lateness,
 * RFC 3550 interarrival jitter, one-way delay), and the classic pcap format
 * with synthesised IP/UDP headers. Unit-tested by tests/test_stream_stats.c;
 * a future Windows port of the receivers uses it as is.
 */
#ifndef MCRX_TOOL_STREAM_STATS_H
#define MCRX_TOOL_STREAM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <mcrx/mcrx.h>

/* ---- sequence headers ---------------------------------------------------- */

#define MCRX_TOOL_SEQ_NONE 0   /* no header recognised */
#define MCRX_TOOL_SEQ_MCRX 1   /* mcrx_send --seq */
#define MCRX_TOOL_SEQ_IPERF2 2 /* iperf 2 UDP datagram */

/* mcrx_send --seq header (docs/tools.md), all integers big-endian:
 *   0  magic "MCRX"            4  version (1)   5  flags (bit 0: end marker)
 *   6  header length (32)      8  sequence number (u64, data from 0)
 *  16  send time (i64, ns since the Unix epoch, sender's CLOCK_REALTIME)
 *  24  datagrams sent (u64; in the end marker, else 0) */
#define MCRX_TOOL_SEQ_HEADER_LEN 32
#define MCRX_TOOL_SEQ_VERSION 1
#define MCRX_TOOL_SEQ_FLAG_END 0x01

/* iperf 2 (2.0.x, 2.1.x) UDP payload: u32 seq (low), u32 tv_sec, u32 tv_usec,
 * u32 seq (high, when the flags word at 16 has 0x08000000), big-endian.
 * Data datagrams count from 1; a negative sequence number ends the test. */
#define MCRX_TOOL_IPERF2_MIN_LEN 16
#define MCRX_TOOL_IPERF2_SEQNO64B 0x08000000u

typedef struct mcrx_tool_seq_header {
    int format;          /* MCRX_TOOL_SEQ_* */
    int end;             /* 1: the sender's end marker */
    uint64_t seq;        /* data: its number; end marker: one past the last data datagram */
    int has_time;        /* send_ns is valid */
    int64_t send_ns;     /* sender's clock, ns since the Unix epoch */
    uint64_t sent;       /* end marker: data datagrams sent */
} mcrx_tool_seq_header;

/* Recognises a header at the start of buf: the mcrx magic first, else iperf 2
 * when allow_iperf2 and the payload is long and plausible enough. Never reads
 * past len. Returns the format (NONE when nothing fits; *h is then zeroed). */
int mcrx_tool_seq_parse(const void *buf, size_t len, int allow_iperf2, mcrx_tool_seq_header *h);

/* Writes the mcrx header; returns MCRX_TOOL_SEQ_HEADER_LEN, or 0 if cap is
 * too small. */
size_t mcrx_tool_seq_write(void *buf, size_t cap, uint64_t seq, int64_t send_ns, int end,
                           uint64_t sent);

/* ---- one stream's accounting --------------------------------------------- */

/* Reordering is recognised up to this many sequence numbers behind the
 * highest seen; older arrivals are "late" (not checked for duplicates). */
#define MCRX_TOOL_STREAM_WINDOW 4096
/* A forward jump this large is a restart of the sender's numbering. */
#define MCRX_TOOL_STREAM_RESYNC (1ull << 24)

typedef struct mcrx_tool_stream_counters {
    uint64_t received;    /* datagrams, end markers excluded, duplicates included */
    uint64_t bytes;       /* their payload bytes */
    int64_t lost;         /* sequence numbers never seen (gaps; arrivals out of order repay) */
    uint64_t duplicates;  /* a sequence number seen again */
    uint64_t reordered;   /* arrived after a higher sequence number */
    uint64_t reorder_max; /* the farthest such arrival, in sequence numbers */
    uint64_t reorder_sum;
    uint64_t late;        /* more than MCRX_TOOL_STREAM_WINDOW behind */
    uint64_t unsequenced; /* no header of the stream's format */
    uint64_t resyncs;     /* numbering restarted */
    uint64_t end_markers;
} mcrx_tool_stream_counters;

typedef struct mcrx_tool_stream {
    mcrx_tool_stream_counters c;
    int format;          /* of the first datagram with a header */
    int started;         /* a sequenced datagram was seen */
    uint64_t base;       /* first expected sequence number */
    uint64_t next;       /* one past the highest seen */
    uint64_t seen[MCRX_TOOL_STREAM_WINDOW / 64];
    int ended;           /* an end marker arrived */
    uint64_t end_sent;   /* its count */
    /* RFC 3550 interarrival jitter, over datagrams with a send time */
    int have_transit;
    int64_t last_transit;
    double jitter_ns;
    /* one-way delay (receive time minus send time) */
    uint64_t owd_n;
    int64_t owd_min, owd_max;
    double owd_sum;
} mcrx_tool_stream;

void mcrx_tool_stream_init(mcrx_tool_stream *s);

/* What one datagram was (return value of mcrx_tool_stream_add). */
#define MCRX_TOOL_DG_INORDER 0
#define MCRX_TOOL_DG_GAP 1
#define MCRX_TOOL_DG_DUPLICATE 2
#define MCRX_TOOL_DG_REORDERED 3
#define MCRX_TOOL_DG_LATE 4
#define MCRX_TOOL_DG_UNSEQUENCED 5
#define MCRX_TOOL_DG_END 6
#define MCRX_TOOL_DG_RESYNC 7

/* Accounts one datagram. rx_ns: its receive time (ns since the Unix epoch),
 * 0 if unknown (no jitter or delay then). allow_iperf2 as for parse. */
int mcrx_tool_stream_add(mcrx_tool_stream *s, const void *payload, size_t len, int64_t rx_ns,
                         int allow_iperf2);

/* RFC 3550 jitter in milliseconds. */
double mcrx_tool_stream_jitter_ms(const mcrx_tool_stream *s);
/* 1 when the delays look like comparable clocks (all within -1 ms .. 60 s),
 * with min/avg/max in ms; 0 otherwise (no data or clocks apart). */
int mcrx_tool_stream_owd_ms(const mcrx_tool_stream *s, double *min, double *avg, double *max);

/* ---- pcap ------------------------------------------------------------------ */

/* Classic pcap, nanosecond timestamps (magic 0xa1b23c4d), little-endian,
 * linktype 101 (LINKTYPE_RAW: each record an IPv4 or IPv6 packet). */
#define MCRX_TOOL_PCAP_FILE_HEADER_LEN 24
#define MCRX_TOOL_PCAP_RECORD_HEADER_LEN 16
#define MCRX_TOOL_PCAP_LINKTYPE_RAW 101
#define MCRX_TOOL_PCAP_SNAPLEN 65535

void mcrx_tool_pcap_file_header(unsigned char out[MCRX_TOOL_PCAP_FILE_HEADER_LEN]);

/* One record: the record header, an IPv4 (20 bytes) or IPv6 (40 bytes)
 * header and a UDP header with correct lengths and checksums, then the
 * payload, cut to the snap length. src and dst must be of one family.
 * Returns the bytes written, 0 if cap is too small or the addresses do not
 * fit. */
size_t mcrx_tool_pcap_record(unsigned char *out, size_t cap, int64_t ts_ns, const mcrx_ip *src,
                             uint16_t sport, const mcrx_ip *dst, uint16_t dport, uint8_t ttl,
                             const void *payload, size_t len);

#endif
