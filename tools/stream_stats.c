/* Stream statistics: see stream_stats.h. Pure C11, no I/O. */
#include "stream_stats.h"

#include <string.h>

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p) {
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v);
}

static void put64(unsigned char *p, uint64_t v) {
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static void le16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v) {
    le16(p, v);
    le16(p + 2, v >> 16);
}

int mcrx_tool_seq_parse(const void *buf, size_t len, int allow_iperf2, mcrx_tool_seq_header *h) {
    const unsigned char *p = buf;
    memset(h, 0, sizeof *h);
    if (p == NULL)
        return MCRX_TOOL_SEQ_NONE;
    if (len >= MCRX_TOOL_SEQ_HEADER_LEN && memcmp(p, "MCRX", 4) == 0 &&
        p[4] == MCRX_TOOL_SEQ_VERSION) {
        unsigned hlen = (unsigned)p[6] << 8 | p[7];
        if (hlen < MCRX_TOOL_SEQ_HEADER_LEN || hlen > len)
            return MCRX_TOOL_SEQ_NONE;
        h->format = MCRX_TOOL_SEQ_MCRX;
        h->end = (p[5] & MCRX_TOOL_SEQ_FLAG_END) != 0;
        h->seq = get64(p + 8);
        h->send_ns = (int64_t)get64(p + 16);
        h->has_time = h->send_ns > 0;
        h->sent = get64(p + 24);
        if (h->end && h->sent != h->seq) {
            memset(h, 0, sizeof *h);
            return MCRX_TOOL_SEQ_NONE;
        }
        return h->format;
    }
    if (allow_iperf2 && len >= MCRX_TOOL_IPERF2_MIN_LEN) {
        uint32_t lo = get32(p), sec = get32(p + 4), usec = get32(p + 8), hi = get32(p + 12);
        int64_t seq;
        if (usec >= 1000000u)
            return MCRX_TOOL_SEQ_NONE;
        if (len >= 20 && (get32(p + 16) & MCRX_TOOL_IPERF2_SEQNO64B))
            seq = (int64_t)((uint64_t)hi << 32 | lo);
        else
            seq = (int32_t)lo;
        if (seq == INT64_MIN)
            return MCRX_TOOL_SEQ_NONE;
        h->format = MCRX_TOOL_SEQ_IPERF2;
        if (seq < 0) {
            /* The FIN carries minus (last data number + 1). */
            h->end = 1;
            h->seq = (uint64_t)-seq;
            h->sent = h->seq - 1;
        } else {
            h->seq = (uint64_t)seq;
        }
        h->send_ns = (int64_t)sec * 1000000000 + (int64_t)usec * 1000;
        h->has_time = sec != 0;
        return h->format;
    }
    return MCRX_TOOL_SEQ_NONE;
}

size_t mcrx_tool_seq_write(void *buf, size_t cap, uint64_t seq, int64_t send_ns, int end,
                           uint64_t sent) {
    unsigned char *p = buf;
    if (p == NULL || cap < MCRX_TOOL_SEQ_HEADER_LEN)
        return 0;
    memcpy(p, "MCRX", 4);
    p[4] = MCRX_TOOL_SEQ_VERSION;
    p[5] = end ? MCRX_TOOL_SEQ_FLAG_END : 0;
    put16(p + 6, MCRX_TOOL_SEQ_HEADER_LEN);
    put64(p + 8, seq);
    put64(p + 16, (uint64_t)send_ns);
    put64(p + 24, end ? sent : 0);
    return MCRX_TOOL_SEQ_HEADER_LEN;
}

void mcrx_tool_stream_init(mcrx_tool_stream *s) {
    memset(s, 0, sizeof *s);
}

#define WBITS MCRX_TOOL_STREAM_WINDOW

static int seen_get(const mcrx_tool_stream *s, uint64_t seq) {
    uint64_t b = seq % WBITS;
    return (int)((s->seen[b / 64] >> (b % 64)) & 1u);
}

static void seen_set(mcrx_tool_stream *s, uint64_t seq, int on) {
    uint64_t b = seq % WBITS;
    if (on)
        s->seen[b / 64] |= 1ull << (b % 64);
    else
        s->seen[b / 64] &= ~(1ull << (b % 64));
}

/* Moves next up to n, marking the numbers in between unseen. */
static void advance(mcrx_tool_stream *s, uint64_t n) {
    if (n - s->next >= WBITS) {
        memset(s->seen, 0, sizeof s->seen);
    } else {
        uint64_t q;
        for (q = s->next; q < n; q++)
            seen_set(s, q, 0);
    }
    s->next = n;
}

static void timing(mcrx_tool_stream *s, const mcrx_tool_seq_header *h, int64_t rx_ns) {
    int64_t transit;
    if (!h->has_time || rx_ns <= 0)
        return;
    transit = rx_ns - h->send_ns;
    if (s->have_transit) {
        double d = (double)transit - (double)s->last_transit; /* no overflow */
        double ad = d < 0 ? -d : d;
        s->jitter_ns += (ad - s->jitter_ns) / 16.0;
    }
    s->have_transit = 1;
    s->last_transit = transit;
    if (s->owd_n == 0 || transit < s->owd_min)
        s->owd_min = transit;
    if (s->owd_n == 0 || transit > s->owd_max)
        s->owd_max = transit;
    s->owd_sum += (double)transit;
    s->owd_n++;
}

/* Data numbering starts at 0 (mcrx) or 1 (iperf 2). A receiver that joined
 * before the sender started counts the numbers before the first arrival as
 * lost; one that joined mid-stream (first number beyond the window) starts
 * counting at its first datagram. */
static void start(mcrx_tool_stream *s, uint64_t seq) {
    uint64_t origin = s->format == MCRX_TOOL_SEQ_IPERF2 ? 1 : 0;
    s->started = 1;
    s->base = (seq >= origin && seq - origin < WBITS) ? origin : seq;
    s->next = s->base;
    memset(s->seen, 0, sizeof s->seen);
}

int mcrx_tool_stream_add(mcrx_tool_stream *s, const void *payload, size_t len, int64_t rx_ns,
                         int allow_iperf2) {
    mcrx_tool_seq_header h;
    int fmt = mcrx_tool_seq_parse(payload, len, allow_iperf2 && s->format != MCRX_TOOL_SEQ_MCRX, &h);
    if (fmt != MCRX_TOOL_SEQ_NONE && s->format == MCRX_TOOL_SEQ_NONE)
        s->format = fmt;
    if (fmt == MCRX_TOOL_SEQ_NONE || fmt != s->format) {
        s->c.received++;
        s->c.bytes += len;
        s->c.unsequenced++;
        return MCRX_TOOL_DG_UNSEQUENCED;
    }
    if (h.end) {
        s->c.end_markers++;
        if (s->ended)
            return MCRX_TOOL_DG_END;
        s->ended = 1;
        s->end_sent = h.sent;
        if (!s->started) {
            start(s, h.seq - h.sent);
        }
        if (h.seq > s->next && h.seq - s->next < MCRX_TOOL_STREAM_RESYNC) {
            s->c.lost += (int64_t)(h.seq - s->next); /* the tail that never came */
            advance(s, h.seq);
        }
        return MCRX_TOOL_DG_END;
    }
    s->c.received++;
    s->c.bytes += len;
    if (!s->started)
        start(s, h.seq);
    if (h.seq >= s->next) {
        uint64_t gap = h.seq - s->next;
        int kind = gap ? MCRX_TOOL_DG_GAP : MCRX_TOOL_DG_INORDER;
        if (gap >= MCRX_TOOL_STREAM_RESYNC) {
            s->c.resyncs++;
            s->next = h.seq;
            memset(s->seen, 0, sizeof s->seen);
            gap = 0;
            kind = MCRX_TOOL_DG_RESYNC;
        }
        s->c.lost += (int64_t)gap;
        advance(s, h.seq + 1);
        seen_set(s, h.seq, 1);
        timing(s, &h, rx_ns);
        return kind;
    }
    if (s->next - h.seq > WBITS || h.seq < s->base) {
        s->c.late++;
        timing(s, &h, rx_ns);
        return MCRX_TOOL_DG_LATE;
    }
    if (seen_get(s, h.seq)) {
        s->c.duplicates++;
        return MCRX_TOOL_DG_DUPLICATE;
    }
    seen_set(s, h.seq, 1);
    {
        uint64_t dist = s->next - 1 - h.seq;
        s->c.reordered++;
        s->c.reorder_sum += dist;
        if (dist > s->c.reorder_max)
            s->c.reorder_max = dist;
    }
    s->c.lost--;
    timing(s, &h, rx_ns);
    return MCRX_TOOL_DG_REORDERED;
}

double mcrx_tool_stream_jitter_ms(const mcrx_tool_stream *s) {
    return s->jitter_ns / 1e6;
}

int mcrx_tool_stream_owd_ms(const mcrx_tool_stream *s, double *min, double *avg, double *max) {
    if (s->owd_n == 0 || s->owd_min < -1000000 || s->owd_max > 60 * (int64_t)1000000000)
        return 0;
    *min = (double)s->owd_min / 1e6;
    *max = (double)s->owd_max / 1e6;
    *avg = s->owd_sum / (double)s->owd_n / 1e6;
    return 1;
}

/* ---- pcap ---- */

void mcrx_tool_pcap_file_header(unsigned char out[MCRX_TOOL_PCAP_FILE_HEADER_LEN]) {
    le32(out, 0xa1b23c4du); /* nanosecond timestamps */
    le16(out + 4, 2);
    le16(out + 6, 4);
    le32(out + 8, 0);  /* thiszone */
    le32(out + 12, 0); /* sigfigs */
    le32(out + 16, MCRX_TOOL_PCAP_SNAPLEN);
    le32(out + 20, MCRX_TOOL_PCAP_LINKTYPE_RAW);
}

static uint32_t sum16(uint32_t acc, const unsigned char *p, size_t n) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffffu) + (acc >> 16);
    return (uint16_t)~acc;
}

size_t mcrx_tool_pcap_record(unsigned char *out, size_t cap, int64_t ts_ns, const mcrx_ip *src,
                             uint16_t sport, const mcrx_ip *dst, uint16_t dport, uint8_t ttl,
                             const void *payload, size_t len) {
    int v6;
    size_t iph, orig, incl, alen;
    unsigned char *ip, *udp;
    uint32_t acc;
    uint16_t ck;
    if (out == NULL || src == NULL || dst == NULL || src->family != dst->family ||
        (src->family != MCRX_IP_V4 && src->family != MCRX_IP_V6) || (payload == NULL && len))
        return 0;
    v6 = src->family == MCRX_IP_V6;
    iph = v6 ? 40 : 20;
    alen = v6 ? 16 : 4;
    if (len > 65535 - 8 - (v6 ? 0 : iph))
        return 0; /* no such UDP datagram */
    orig = iph + 8 + len;
    incl = orig > MCRX_TOOL_PCAP_SNAPLEN ? MCRX_TOOL_PCAP_SNAPLEN : orig;
    if (cap < MCRX_TOOL_PCAP_RECORD_HEADER_LEN + incl)
        return 0;
    if (ts_ns < 0)
        ts_ns = 0;
    le32(out, (uint32_t)(ts_ns / 1000000000));
    le32(out + 4, (uint32_t)(ts_ns % 1000000000));
    le32(out + 8, (uint32_t)incl);
    le32(out + 12, (uint32_t)orig);
    ip = out + MCRX_TOOL_PCAP_RECORD_HEADER_LEN;
    udp = ip + iph;
    memset(ip, 0, iph + 8);
    if (v6) {
        ip[0] = 0x60;
        put16(ip + 4, (uint32_t)(8 + len));
        ip[6] = 17;
        ip[7] = ttl;
        memcpy(ip + 8, src->bytes, 16);
        memcpy(ip + 24, dst->bytes, 16);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, (uint32_t)orig);
        put16(ip + 6, 0x4000); /* DF */
        ip[8] = ttl;
        ip[9] = 17;
        memcpy(ip + 12, src->bytes, 4);
        memcpy(ip + 16, dst->bytes, 4);
        put16(ip + 10, fold(sum16(0, ip, 20)));
    }
    put16(udp, sport);
    put16(udp + 2, dport);
    put16(udp + 4, (uint32_t)(8 + len));
    /* UDP checksum over the pseudo header, the UDP header and the payload */
    acc = sum16(0, src->bytes, alen);
    acc = sum16(acc, dst->bytes, alen);
    acc += 17 + (uint32_t)(8 + len);
    acc = sum16(acc, udp, 8);
    if (len)
        acc = sum16(acc, payload, len);
    ck = fold(acc);
    put16(udp + 6, ck ? ck : 0xffff);
    if (incl > iph + 8)
        memcpy(udp + 8, payload, incl - iph - 8);
    return MCRX_TOOL_PCAP_RECORD_HEADER_LEN + incl;
}
