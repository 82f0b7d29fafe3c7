/*
 * mcrx_recv --stats and --pcap: the per-stream table, interval lines and
 * summaries (text or JSON lines), and the capture file. The accounting
 * itself is stream_stats.c (pure); this file adds clocks, interface names
 * and output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "recv_stats.h"
#include "tool_common.h"

void mcrx_tool_stats_init(mcrx_tool_stats *st, FILE *out, int json, double every, int64_t join_ns,
                          double join_mono) {
    memset(st, 0, sizeof *st);
    st->out = out;
    st->json = json;
    st->every = every;
    st->join_ns = join_ns;
    st->join_mono = join_mono;
    st->last_tick = join_mono;
    st->next_due = every > 0 ? join_mono + every : -1;
}

void mcrx_tool_stats_free(mcrx_tool_stats *st) {
    free(st->v);
    st->v = NULL;
    st->n = st->cap = 0;
}

static mcrx_tool_stats_stream *find(mcrx_tool_stats *st, const mcrx_datagram *dg) {
    size_t i;
    mcrx_tool_stats_stream *s;
    for (i = 0; i < st->n; i++) {
        s = &st->v[i];
        if (s->sport == dg->source_port && s->dport == dg->dst_port &&
            mcrx_ip_equal(&s->src, &dg->source) && mcrx_ip_equal(&s->group, &dg->group))
            return s;
    }
    if (st->n == MCRX_TOOL_STATS_MAX_STREAMS)
        return NULL;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        mcrx_tool_stats_stream *v = realloc(st->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        st->v = v;
        st->cap = cap;
    }
    s = &st->v[st->n++];
    memset(s, 0, sizeof *s);
    s->src = dg->source;
    s->group = dg->group;
    s->sport = dg->source_port;
    s->dport = dg->dst_port;
    mcrx_tool_stream_init(&s->s);
    return s;
}

static const char *format_name(int f) {
    return f == MCRX_TOOL_SEQ_MCRX ? "mcrx" : f == MCRX_TOOL_SEQ_IPERF2 ? "iperf2" : "none";
}

static void ipstr(const mcrx_ip *ip, char *buf, size_t len) {
    mcrx_ip plain = *ip;
    plain.scope_id = 0;
    mcrx_ip_format(&plain, buf, len);
}

static void json_num(FILE *f, const char *key, int valid, double v) {
    if (valid)
        fprintf(f, ",\"%s\":%.6f", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

/* One line or block. summary: cumulative since the first datagram;
 * otherwise the interval since the last line. */
static void report(mcrx_tool_stats *st, mcrx_tool_stats_stream *s, int summary, double now) {
    FILE *f = st->out;
    const mcrx_tool_stream_counters *c = &s->s.c, *p = &s->prev;
    char src[MCRX_IP_STRLEN], grp[MCRX_IP_STRLEN], ifname[MCRX_TOOL_IFNAME_LEN] = "";
    uint64_t rx = summary ? c->received : c->received - p->received;
    uint64_t bytes = summary ? c->bytes : c->bytes - p->bytes;
    int64_t lost = summary ? c->lost : c->lost - p->lost;
    uint64_t dups = summary ? c->duplicates : c->duplicates - p->duplicates;
    uint64_t reord = summary ? c->reordered : c->reordered - p->reordered;
    uint64_t late = summary ? c->late : c->late - p->late;
    uint64_t kd = summary ? st->kdrops : st->kdrops - s->prev_kdrops;
    double t0 = summary ? (double)(s->first_rx_ns - st->join_ns) / 1e9 : st->last_tick - st->join_mono;
    double t1 = summary ? (double)(s->last_rx_ns - st->join_ns) / 1e9 : now - st->join_mono;
    double secs = t1 - t0, bps = 0, dps = 0, mn = 0, av = 0, mx = 0, lossp = 0;
    int owd = mcrx_tool_stream_owd_ms(&s->s, &mn, &av, &mx);
    double first_ms = (double)(s->first_rx_ns - st->join_ns) / 1e6;
    if (secs > 0) {
        bps = (double)bytes * 8 / secs;
        dps = (double)rx / secs;
    }
    {
        double expected = (double)(rx - dups - late) + (double)lost;
        if (expected > 0)
            lossp = 100.0 * (double)lost / expected;
    }
    ipstr(&s->src, src, sizeof src);
    ipstr(&s->group, grp, sizeof grp);
    if (s->has_if)
        mcrx_tool_ifname(s->ifindex, ifname, sizeof ifname);
    if (st->json) {
        fprintf(f, "{\"type\":\"%s\",\"source\":\"%s\",\"source_port\":%u,\"group\":\"%s\","
                   "\"dst_port\":%u,\"format\":\"%s\"",
                summary ? "summary" : "interval", src, s->sport, grp, s->dport,
                format_name(s->s.format));
        fprintf(f, ",\"start_s\":%.6f,\"end_s\":%.6f", t0, t1);
        fprintf(f, ",\"received\":%llu,\"bytes\":%llu,\"rate_bps\":%.1f,\"rate_dps\":%.1f",
                (unsigned long long)rx, (unsigned long long)bytes, bps, dps);
        fprintf(f, ",\"lost\":%lld,\"loss_percent\":%.4f,\"duplicates\":%llu,\"reordered\":%llu",
                (long long)lost, lossp, (unsigned long long)dups, (unsigned long long)reord);
        fprintf(f, ",\"reorder_max\":%llu,\"late\":%llu,\"unsequenced\":%llu",
                (unsigned long long)c->reorder_max, (unsigned long long)late,
                (unsigned long long)c->unsequenced);
        fprintf(f, ",\"jitter_ms\":%.6f", mcrx_tool_stream_jitter_ms(&s->s));
        json_num(f, "owd_min_ms", owd, mn);
        json_num(f, "owd_avg_ms", owd, av);
        json_num(f, "owd_max_ms", owd, mx);
        if (st->have_kdrops)
            fprintf(f, ",\"kernel_drops\":%llu", (unsigned long long)kd);
        else
            fprintf(f, ",\"kernel_drops\":null");
        if (s->s.ended)
            fprintf(f, ",\"sent\":%llu", (unsigned long long)s->s.end_sent);
        else
            fprintf(f, ",\"sent\":null");
        fprintf(f, ",\"end_marker\":%s", s->s.ended ? "true" : "false");
        json_num(f, "first_datagram_ms", st->join_ns > 0, first_ms);
        if (s->has_ttl)
            fprintf(f, ",\"ttl\":%u", s->ttl);
        else
            fprintf(f, ",\"ttl\":null");
        if (s->has_if)
            fprintf(f, ",\"ingress_ifindex\":%u,\"ingress_interface\":\"%s\"}\n", s->ifindex, ifname);
        else
            fprintf(f, ",\"ingress_ifindex\":null,\"ingress_interface\":null}\n");
    } else if (!summary) {
        fprintf(f,
                "[stats] %s:%u -> %s:%u %6.2f-%-6.2f s %llu dg %llu B %.1f kbit/s lost %lld "
                "dup %llu reord %llu late %llu jitter %.3f ms kernel_drops %llu\n",
                src, s->sport, grp, s->dport, t0, t1, (unsigned long long)rx,
                (unsigned long long)bytes, bps / 1000, (long long)lost, (unsigned long long)dups,
                (unsigned long long)reord, (unsigned long long)late,
                mcrx_tool_stream_jitter_ms(&s->s), (unsigned long long)kd);
    } else {
        fprintf(f, "[summary] %s:%u -> %s:%u (sequence format: %s)\n", src, s->sport, grp, s->dport,
                format_name(s->s.format));
        fprintf(f, "  received: %llu datagrams, %llu bytes in %.3f s (%.1f kbit/s, %.1f datagrams/s)\n",
                (unsigned long long)rx, (unsigned long long)bytes, secs, bps / 1000, dps);
        if (s->s.ended)
            fprintf(f, "  sent: %llu (from the end marker)\n", (unsigned long long)s->s.end_sent);
        else
            fprintf(f, "  sent: unknown (no end marker)\n");
        fprintf(f, "  lost: %lld (%.2f%%) from sequence gaps; kernel drops (socket buffer): ",
                (long long)lost, lossp);
        if (st->have_kdrops)
            fprintf(f, "%llu\n", (unsigned long long)kd);
        else
            fprintf(f, "unknown\n");
        fprintf(f, "  duplicates: %llu  reordered: %llu (max distance %llu, mean %.1f)  late: %llu  "
                   "unsequenced: %llu\n",
                (unsigned long long)dups, (unsigned long long)reord,
                (unsigned long long)c->reorder_max,
                reord ? (double)c->reorder_sum / (double)reord : 0.0, (unsigned long long)late,
                (unsigned long long)c->unsequenced);
        fprintf(f, "  jitter: %.3f ms (RFC 3550)\n", mcrx_tool_stream_jitter_ms(&s->s));
        if (owd)
            fprintf(f, "  one-way delay: min %.3f avg %.3f max %.3f ms\n", mn, av, mx);
        else
            fprintf(f, "  one-way delay: n/a (no send times, or the clocks are not comparable)\n");
        fprintf(f, "  first datagram: %.1f ms after the join\n", first_ms);
        if (s->has_ttl)
            fprintf(f, "  ttl: %u", s->ttl);
        else
            fprintf(f, "  ttl: unknown");
        if (s->has_if)
            fprintf(f, "  ingress: %s (ifindex %u)\n", ifname[0] ? ifname : "?", s->ifindex);
        else
            fprintf(f, "  ingress: unknown\n");
    }
    fflush(f);
}

int mcrx_tool_stats_add(mcrx_tool_stats *st, const mcrx_datagram *dg) {
    mcrx_tool_stats_stream *s = find(st, dg);
    const mcrx_metadata *md = dg->meta;
    int64_t rx_ns = 0;
    int kind;
    size_t i, sequenced = 0, ended = 0;
    if (md != NULL && (md->valid & MCRX_META_DROPS)) {
        st->kdrops = md->kernel_drops;
        st->have_kdrops = 1;
    }
    if (s == NULL) {
        if (!st->overflow_warned)
            fprintf(stderr, "mcrx_recv: more than %d streams; further sources are not counted\n",
                    MCRX_TOOL_STATS_MAX_STREAMS);
        st->overflow_warned = 1;
        return 0;
    }
    if (md != NULL && (md->valid & MCRX_META_TIMESTAMP))
        rx_ns = md->rx_timestamp_ns;
    else
        rx_ns = mcrx_tool_realtime_ns();
    kind = mcrx_tool_stream_add(&s->s, dg->buf, dg->len, rx_ns, 1);
    if (s->first_rx_ns == 0)
        s->first_rx_ns = rx_ns;
    if (kind != MCRX_TOOL_DG_END) {
        s->last_rx_ns = rx_ns;
        st->data_datagrams++;
    }
    if (md != NULL && (md->valid & MCRX_META_TTL)) {
        s->ttl = md->ttl;
        s->has_ttl = 1;
    }
    if (md != NULL && (md->valid & MCRX_META_INGRESS_IF)) {
        s->ifindex = md->ingress_interface_index;
        s->has_if = 1;
    }
    if (kind == MCRX_TOOL_DG_END && !s->summarized) {
        if (s->last_rx_ns == 0)
            s->last_rx_ns = rx_ns;
        report(st, s, 1, 0);
        s->summarized = 1;
    }
    for (i = 0; i < st->n; i++) {
        if (st->v[i].s.format != MCRX_TOOL_SEQ_NONE) {
            sequenced++;
            ended += st->v[i].summarized;
        }
    }
    return sequenced > 0 && ended == sequenced;
}

double mcrx_tool_stats_left(const mcrx_tool_stats *st, double now) {
    if (st->next_due < 0)
        return -1;
    return st->next_due > now ? st->next_due - now : 0;
}

void mcrx_tool_stats_tick(mcrx_tool_stats *st, double now) {
    size_t i;
    if (st->next_due < 0 || now < st->next_due)
        return;
    for (i = 0; i < st->n; i++) {
        mcrx_tool_stats_stream *s = &st->v[i];
        if (s->summarized)
            continue;
        report(st, s, 0, now);
        s->prev = s->s.c;
        s->prev_kdrops = st->kdrops;
    }
    st->last_tick = now;
    while (st->next_due <= now)
        st->next_due += st->every;
}

void mcrx_tool_stats_finish(mcrx_tool_stats *st) {
    size_t i;
    for (i = 0; i < st->n; i++) {
        if (!st->v[i].summarized) {
            report(st, &st->v[i], 1, 0);
            st->v[i].summarized = 1;
        }
    }
    if (st->n == 0) {
        if (st->json)
            fprintf(st->out, "{\"type\":\"summary\",\"streams\":0,\"received\":0}\n");
        else
            fprintf(st->out, "[summary] no datagram received\n");
        fflush(st->out);
    }
}

/* ---- pcap ---- */

int mcrx_tool_pcap_open(mcrx_tool_pcap *pc, const char *path) {
    unsigned char fh[MCRX_TOOL_PCAP_FILE_HEADER_LEN];
    memset(pc, 0, sizeof *pc);
    pc->f = fopen(path, "wb");
    if (pc->f == NULL)
        return -1;
    mcrx_tool_pcap_file_header(fh);
    if (fwrite(fh, 1, sizeof fh, pc->f) != sizeof fh) {
        fclose(pc->f);
        pc->f = NULL;
        return -1;
    }
    return 0;
}

int mcrx_tool_pcap_write(mcrx_tool_pcap *pc, const mcrx_datagram *dg) {
    static unsigned char rec[MCRX_TOOL_PCAP_RECORD_HEADER_LEN + MCRX_TOOL_PCAP_SNAPLEN];
    const mcrx_metadata *md = dg->meta;
    int64_t ts = md != NULL && (md->valid & MCRX_META_TIMESTAMP) ? md->rx_timestamp_ns
                                                                 : mcrx_tool_realtime_ns();
    uint8_t ttl = md != NULL && (md->valid & MCRX_META_TTL) ? md->ttl : 64;
    mcrx_ip dst = dg->group;
    size_t n;
    if (pc->f == NULL)
        return -1;
    n = mcrx_tool_pcap_record(rec, sizeof rec, ts, &dg->source, dg->source_port, &dst, dg->dst_port,
                              ttl, dg->buf, dg->len);
    if (n == 0) {
        pc->skipped++;
        return 0;
    }
    if (fwrite(rec, 1, n, pc->f) != n)
        return -1;
    pc->written++;
    return 0;
}

int mcrx_tool_pcap_close(mcrx_tool_pcap *pc) {
    int rc = 0;
    if (pc->f != NULL && fclose(pc->f) != 0)
        rc = -1;
    pc->f = NULL;
    return rc;
}
