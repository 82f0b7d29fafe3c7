/* The receivers' pure statistics (tools/stream_stats.c): sequence headers of
 * mcrx_send --seq and iperf 2, gap / duplicate / reorder / late accounting,
 * RFC 3550 jitter, one-way delay, the pcap records; and malformed payloads
 * of every length and content, which must never be read past their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream_stats.h"

static int64_t T0 = 1700000000LL * 1000000000LL;

/* A datagram of n bytes (>= 32) with the mcrx header, sent at send_ns. */
static size_t mk(unsigned char *buf, size_t n, uint64_t seq, int64_t send_ns) {
    memset(buf, 0xab, n);
    assert_int_equal(mcrx_tool_seq_write(buf, n, seq, send_ns, 0, 0), MCRX_TOOL_SEQ_HEADER_LEN);
    return n;
}

static void feed(mcrx_tool_stream *s, const uint64_t *seqs, size_t n) {
    unsigned char buf[64];
    size_t i;
    for (i = 0; i < n; i++)
        mcrx_tool_stream_add(s, buf, mk(buf, sizeof buf, seqs[i], T0), 0, 1);
}

static void end(mcrx_tool_stream *s, uint64_t count) {
    unsigned char buf[32];
    mcrx_tool_seq_write(buf, sizeof buf, count, T0, 1, count);
    assert_int_equal(mcrx_tool_stream_add(s, buf, sizeof buf, 0, 1), MCRX_TOOL_DG_END);
}

static void seq_header_round_trip(void **state) {
    unsigned char buf[40];
    mcrx_tool_seq_header h;
    (void)state;
    assert_int_equal(mcrx_tool_seq_write(buf, 31, 1, 2, 0, 0), 0);
    mcrx_tool_seq_write(buf, sizeof buf, 0x0102030405060708ull, T0 + 7, 0, 0);
    assert_memory_equal(buf, "MCRX\x01\x00\x00\x20\x01\x02\x03\x04\x05\x06\x07\x08", 16);
    assert_int_equal(mcrx_tool_seq_parse(buf, sizeof buf, 0, &h), MCRX_TOOL_SEQ_MCRX);
    assert_true(h.seq == 0x0102030405060708ull && h.send_ns == T0 + 7 && h.has_time && !h.end);
    mcrx_tool_seq_write(buf, sizeof buf, 500, T0, 1, 500);
    assert_int_equal(mcrx_tool_seq_parse(buf, 32, 0, &h), MCRX_TOOL_SEQ_MCRX);
    assert_true(h.end && h.seq == 500 && h.sent == 500);
}

static void seq_header_rejects_malformed(void **state) {
    unsigned char buf[32];
    mcrx_tool_seq_header h;
    (void)state;
    mcrx_tool_seq_write(buf, sizeof buf, 1, T0, 0, 0);
    assert_int_equal(mcrx_tool_seq_parse(buf, 31, 0, &h), MCRX_TOOL_SEQ_NONE);
    assert_int_equal(mcrx_tool_seq_parse(NULL, 32, 1, &h), MCRX_TOOL_SEQ_NONE);
    buf[7] = 33; /* header longer than the datagram */
    assert_int_equal(mcrx_tool_seq_parse(buf, 32, 0, &h), MCRX_TOOL_SEQ_NONE);
    buf[7] = 32;
    buf[4] = 2; /* unknown version */
    assert_int_equal(mcrx_tool_seq_parse(buf, 32, 0, &h), MCRX_TOOL_SEQ_NONE);
    mcrx_tool_seq_write(buf, sizeof buf, 9, T0, 1, 8); /* end marker that contradicts itself */
    assert_int_equal(mcrx_tool_seq_parse(buf, 32, 0, &h), MCRX_TOOL_SEQ_NONE);
    assert_int_equal(h.seq, 0);
}

/* The bytes iperf 2.1.8 sends (captured): seq 0x76, 1745340371 s, 246517 us,
 * high word 0, flags 0x48010098 (64-bit sequence numbers). */
static void iperf2_header(void **state) {
    static const unsigned char d[] = {0x00, 0x00, 0x00, 0x76, 0x6b, 0x07, 0x87, 0xd3, 0x00, 0x03,
                                      0xc2, 0xf5, 0x00, 0x00, 0x00, 0x00, 0x48, 0x01, 0x00, 0x98};
    static const unsigned char fin[] = {0xff, 0xff, 0xff, 0x7d, 0x6b, 0x07, 0x87, 0xe4, 0x00, 0x01,
                                        0x82, 0xb4, 0xff, 0xff, 0xff, 0xff, 0x48, 0x01, 0x00, 0x98};
    unsigned char old[16];
    mcrx_tool_seq_header h;
    (void)state;
    assert_int_equal(mcrx_tool_seq_parse(d, sizeof d, 1, &h), MCRX_TOOL_SEQ_IPERF2);
    assert_true(h.seq == 0x76 && !h.end && h.has_time);
    assert_true(h.send_ns == 0x6b0787d3LL * 1000000000 + 0x3c2f5LL * 1000);
    assert_int_equal(mcrx_tool_seq_parse(d, sizeof d, 0, &h), MCRX_TOOL_SEQ_NONE);
    assert_int_equal(mcrx_tool_seq_parse(fin, sizeof fin, 1, &h), MCRX_TOOL_SEQ_IPERF2);
    assert_true(h.end && h.seq == 131 && h.sent == 130);
    /* 32-bit numbering (no flags word): a negative id ends the test */
    memcpy(old, fin, 16);
    assert_int_equal(mcrx_tool_seq_parse(old, 16, 1, &h), MCRX_TOOL_SEQ_IPERF2);
    assert_true(h.end && h.seq == 131);
    old[8] = 0xff; /* tv_usec >= 1e6: not iperf */
    assert_int_equal(mcrx_tool_seq_parse(old, 16, 1, &h), MCRX_TOOL_SEQ_NONE);
    assert_int_equal(mcrx_tool_seq_parse(d, 15, 1, &h), MCRX_TOOL_SEQ_NONE);
}

static void in_order_stream_has_no_loss(void **state) {
    mcrx_tool_stream s;
    uint64_t seqs[100];
    size_t i;
    (void)state;
    for (i = 0; i < 100; i++)
        seqs[i] = i;
    mcrx_tool_stream_init(&s);
    feed(&s, seqs, 100);
    end(&s, 100);
    end(&s, 100); /* repeated end markers are one */
    assert_int_equal(s.c.received, 100);
    assert_int_equal(s.c.bytes, 6400);
    assert_int_equal(s.c.lost, 0);
    assert_int_equal(s.c.duplicates + s.c.reordered + s.c.late + s.c.unsequenced, 0);
    assert_int_equal(s.c.end_markers, 2);
    assert_true(s.ended && s.end_sent == 100);
}

static void gaps_and_the_lost_tail_count_as_lost(void **state) {
    mcrx_tool_stream s;
    static const uint64_t seqs[] = {0, 1, 3, 4, 7};
    (void)state;
    mcrx_tool_stream_init(&s);
    feed(&s, seqs, 5);
    assert_int_equal(s.c.lost, 3);
    end(&s, 10); /* 8 and 9 never came */
    assert_int_equal(s.c.lost, 5);
    assert_int_equal(s.c.received, 5);
}

static void lost_head_counts_when_joined_before_the_sender(void **state) {
    mcrx_tool_stream s;
    static const uint64_t seqs[] = {3, 4};
    (void)state;
    mcrx_tool_stream_init(&s);
    feed(&s, seqs, 2);
    assert_int_equal(s.c.lost, 3);
    mcrx_tool_stream_init(&s); /* joined mid-stream */
    {
        static const uint64_t far[] = {100000, 100001};
        feed(&s, far, 2);
    }
    assert_int_equal(s.c.lost, 0);
}

static void duplicates_counted_exactly(void **state) {
    mcrx_tool_stream s;
    static const uint64_t seqs[] = {0, 1, 1, 2, 2, 2, 3, 0};
    (void)state;
    mcrx_tool_stream_init(&s);
    feed(&s, seqs, 8);
    assert_int_equal(s.c.duplicates, 4);
    assert_int_equal(s.c.reordered, 0);
    assert_int_equal(s.c.lost, 0);
    assert_int_equal(s.c.received, 8);
}

static void reordering_with_distance_repays_loss(void **state) {
    mcrx_tool_stream s;
    static const uint64_t seqs[] = {0, 2, 1, 3, 8, 4, 5, 6, 7, 9, 6};
    (void)state;
    mcrx_tool_stream_init(&s);
    feed(&s, seqs, 11);
    assert_int_equal(s.c.reordered, 5); /* 1, 4, 5, 6, 7 */
    assert_int_equal(s.c.reorder_max, 4); /* 4 after 8 */
    assert_int_equal(s.c.reorder_sum, 1 + 4 + 3 + 2 + 1);
    assert_int_equal(s.c.duplicates, 1);  /* the second 6 */
    assert_int_equal(s.c.lost, 0);
}

static void far_behind_is_late_and_huge_jump_resyncs(void **state) {
    mcrx_tool_stream s;
    static const uint64_t seqs[] = {0, 1, 10000, 2, 10001};
    (void)state;
    mcrx_tool_stream_init(&s);
    feed(&s, seqs, 5);
    assert_int_equal(s.c.late, 1);
    assert_int_equal(s.c.lost, 10000 - 2);
    {
        static const uint64_t jump[] = {(1ull << 40), (1ull << 40) + 1};
        feed(&s, jump, 2);
    }
    assert_int_equal(s.c.resyncs, 1);
    assert_int_equal(s.c.lost, 10000 - 2);
}

static void unsequenced_and_foreign_format_counted(void **state) {
    mcrx_tool_stream s;
    unsigned char buf[64];
    (void)state;
    mcrx_tool_stream_init(&s);
    assert_int_equal(mcrx_tool_stream_add(&s, "hello", 5, 0, 1), MCRX_TOOL_DG_UNSEQUENCED);
    mcrx_tool_stream_add(&s, buf, mk(buf, sizeof buf, 0, T0), 0, 1);
    assert_int_equal(s.format, MCRX_TOOL_SEQ_MCRX);
    memset(buf, 0, sizeof buf); /* would be iperf 2, but the stream is mcrx */
    assert_int_equal(mcrx_tool_stream_add(&s, buf, 20, 0, 1), MCRX_TOOL_DG_UNSEQUENCED);
    assert_int_equal(s.c.unsequenced, 2);
    assert_int_equal(s.c.received, 3);
}

/* RFC 3550 6.4.1: J += (|D| - J) / 16 over consecutive transit times. */
static void jitter_follows_rfc3550(void **state) {
    mcrx_tool_stream s;
    unsigned char buf[64];
    static const int64_t transit_us[] = {1000, 1200, 900, 900, 1500, 1000};
    double j = 0;
    size_t i;
    (void)state;
    mcrx_tool_stream_init(&s);
    for (i = 0; i < 6; i++) {
        int64_t send = T0 + (int64_t)i * 10000000;
        mcrx_tool_stream_add(&s, buf, mk(buf, sizeof buf, i, send), send + transit_us[i] * 1000, 1);
        if (i > 0) {
            double d = (double)(transit_us[i] - transit_us[i - 1]) * 1000;
            j += ((d < 0 ? -d : d) - j) / 16.0;
        }
    }
    assert_true(j > 0);
    assert_true(mcrx_tool_stream_jitter_ms(&s) > j / 1e6 - 1e-9 &&
                mcrx_tool_stream_jitter_ms(&s) < j / 1e6 + 1e-9);
    {
        double mn, av, mx;
        assert_int_equal(mcrx_tool_stream_owd_ms(&s, &mn, &av, &mx), 1);
        assert_true(mn > 0.899 && mn < 0.901 && mx > 1.499 && mx < 1.501);
        assert_true(av > 1.083 && av < 1.084);
    }
}

static void owd_hidden_when_clocks_apart(void **state) {
    mcrx_tool_stream s;
    unsigned char buf[64];
    double a, b, c;
    (void)state;
    mcrx_tool_stream_init(&s);
    assert_int_equal(mcrx_tool_stream_owd_ms(&s, &a, &b, &c), 0);
    mcrx_tool_stream_add(&s, buf, mk(buf, sizeof buf, 0, T0), T0 - 5000000, 1);
    assert_int_equal(mcrx_tool_stream_owd_ms(&s, &a, &b, &c), 0);
    mcrx_tool_stream_add(&s, buf, mk(buf, sizeof buf, 1, T0), 0, 1); /* no receive time */
    assert_int_equal(s.owd_n, 1);
}

static void iperf2_stream_counts_from_one(void **state) {
    mcrx_tool_stream s;
    unsigned char d[20] = {0};
    uint32_t i;
    (void)state;
    mcrx_tool_stream_init(&s);
    d[4] = 0x6b;
    d[16] = 0x08;
    for (i = 1; i <= 20; i++) {
        if (i % 7 == 0)
            continue;
        d[3] = (unsigned char)i;
        mcrx_tool_stream_add(&s, d, sizeof d, 0, 1);
    }
    assert_int_equal(s.format, MCRX_TOOL_SEQ_IPERF2);
    assert_int_equal(s.c.lost, 2);
    memset(d, 0xff, 16); /* FIN: -(22) */
    d[3] = (unsigned char)(0x100 - 22);
    memset(d + 4, 0, 12);
    d[12] = d[13] = d[14] = d[15] = 0xff;
    d[4] = 0x6b;
    assert_int_equal(mcrx_tool_stream_add(&s, d, sizeof d, 0, 1), MCRX_TOOL_DG_END);
    assert_int_equal(s.end_sent, 21);
    assert_int_equal(s.c.lost, 3); /* 7, 14 and the tail 21 */
}

static uint32_t csum_ok(const unsigned char *p, size_t n) {
    uint32_t a = 0;
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        a += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        a += (uint32_t)p[n - 1] << 8;
    while (a >> 16)
        a = (a & 0xffff) + (a >> 16);
    return a;
}

static void pcap_records_are_valid_ip_udp(void **state) {
    unsigned char fh[24], rec[200], pseudo[400];
    mcrx_ip s4, g4, s6, g6;
    size_t n;
    (void)state;
    mcrx_tool_pcap_file_header(fh);
    assert_memory_equal(fh, "\x4d\x3c\xb2\xa1\x02\x00\x04\x00", 8);
    assert_int_equal(fh[20], 101);
    mcrx_ip_parse("198.51.100.1", &s4);
    mcrx_ip_parse("232.1.2.3", &g4);
    n = mcrx_tool_pcap_record(rec, sizeof rec, T0 + 5, &s4, 4000, &g4, 5001, 7, "abc", 3);
    assert_int_equal(n, 16 + 20 + 8 + 3);
    assert_int_equal(rec[4], 5);             /* ns part */
    assert_int_equal(rec[8], 31);            /* incl_len */
    assert_int_equal(rec[16], 0x45);
    assert_int_equal(rec[16 + 8], 7);        /* TTL */
    assert_int_equal(csum_ok(rec + 16, 20), 0xffff);
    assert_memory_equal(rec + 16 + 28, "abc", 3);
    /* UDP checksum: pseudo header + UDP header + payload sums to 0xffff */
    memcpy(pseudo, rec + 16 + 12, 8);
    pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = 0, pseudo[11] = 11;
    memcpy(pseudo + 12, rec + 36, 11);
    assert_int_equal(csum_ok(pseudo, 23), 0xffff);
    mcrx_ip_parse("2001:db8:1::1", &s6);
    mcrx_ip_parse("ff3e::8000:1", &g6);
    n = mcrx_tool_pcap_record(rec, sizeof rec, T0, &s6, 1, &g6, 2, 64, "x", 1);
    assert_int_equal(n, 16 + 40 + 8 + 1);
    assert_int_equal(rec[16] >> 4, 6);
    assert_int_equal(rec[16 + 6], 17);
    memcpy(pseudo, rec + 16 + 8, 32);
    memset(pseudo + 32, 0, 8);
    pseudo[35] = 9, pseudo[39] = 17;
    memcpy(pseudo + 40, rec + 56, 9);
    assert_int_equal(csum_ok(pseudo, 49), 0xffff);
    assert_int_equal(mcrx_tool_pcap_record(rec, 20, T0, &s4, 1, &g4, 2, 1, "x", 1), 0);
    assert_int_equal(mcrx_tool_pcap_record(rec, sizeof rec, T0, &s4, 1, &g6, 2, 1, "x", 1), 0);
    assert_int_equal(mcrx_tool_pcap_record(rec, sizeof rec, T0, &s4, 1, &g4, 2, 1, NULL, 1), 0);
}

static uint32_t rng = 12345;
static uint32_t rnd(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Random bytes, truncations and single-byte mutations of valid headers, each
 * in a buffer of exactly its length (ASan catches any read past it); the
 * counters stay consistent with what was fed. */
static void malformed_payloads_never_crash(void **state) {
    mcrx_tool_stream s;
    unsigned char valid[40];
    int round;
    uint64_t fed = 0, ends = 0;
    (void)state;
    mcrx_tool_stream_init(&s);
    for (round = 0; round < 200000; round++) {
        size_t len = rnd() % 48, i;
        unsigned char *p = malloc(len ? len : 1);
        mcrx_tool_seq_header h;
        int kind;
        assert_non_null(p);
        switch (rnd() % 3) {
        case 0:
            for (i = 0; i < len; i++)
                p[i] = (unsigned char)rnd();
            break;
        case 1:
            mcrx_tool_seq_write(valid, sizeof valid, rnd() % 64, T0, rnd() % 8 == 0, 0);
            memcpy(p, valid, len < sizeof valid ? len : sizeof valid);
            if (len)
                p[rnd() % len] ^= (unsigned char)(1u << (rnd() % 8));
            break;
        default:
            memset(p, 0, len);
            if (len > 3)
                p[3] = (unsigned char)rnd();
            if (len > 0)
                p[0] = (unsigned char)(rnd() % 2 ? 0xff : 0);
            break;
        }
        mcrx_tool_seq_parse(p, len, 1, &h);
        if (h.end)
            assert_true(h.format == MCRX_TOOL_SEQ_IPERF2 || h.sent == h.seq);
        kind = mcrx_tool_stream_add(&s, p, len, T0 + round, (int)(round & 1));
        if (kind == MCRX_TOOL_DG_END)
            ends++;
        else
            fed++;
        free(p);
    }
    assert_int_equal(s.c.received, fed);
    assert_int_equal(s.c.end_markers, ends);
    assert_true(s.c.duplicates + s.c.reordered + s.c.late + s.c.unsequenced <= fed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seq_header_round_trip),
        cmocka_unit_test(seq_header_rejects_malformed),
        cmocka_unit_test(iperf2_header),
        cmocka_unit_test(in_order_stream_has_no_loss),
        cmocka_unit_test(gaps_and_the_lost_tail_count_as_lost),
        cmocka_unit_test(lost_head_counts_when_joined_before_the_sender),
        cmocka_unit_test(duplicates_counted_exactly),
        cmocka_unit_test(reordering_with_distance_repays_loss),
        cmocka_unit_test(far_behind_is_late_and_huge_jump_resyncs),
        cmocka_unit_test(unsequenced_and_foreign_format_counted),
        cmocka_unit_test(jitter_follows_rfc3550),
        cmocka_unit_test(owd_hidden_when_clocks_apart),
        cmocka_unit_test(iperf2_stream_counts_from_one),
        cmocka_unit_test(pcap_records_are_valid_ip_udp),
        cmocka_unit_test(malformed_payloads_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
