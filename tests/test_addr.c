/*
 * The address leaf's own text parser and printer against the C library's
 * inet_pton/inet_ntop (glibc), which they replace so that every platform
 * accepts and prints the same forms. No network.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mcrx/mcrx.h>

/* xorshift: reproducible inputs without libc's rand state. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Compares one text with glibc: accepted by both or neither, same bytes. */
static void same_as_libc(const char *text) {
    unsigned char b4[4], b16[16];
    mcrx_ip ip;
    int ours = mcrx_ip_parse(text, &ip) == MCRX_ERROR_NONE;
    int v4 = inet_pton(AF_INET, text, b4) == 1;
    int v6 = !v4 && inet_pton(AF_INET6, text, b16) == 1;
    if (ours != (v4 || v6))
        fail_msg("'%s': ours %s, glibc %s", text, ours ? "accepts" : "rejects",
                 v4 || v6 ? "accepts" : "rejects");
    if (v4)
        assert_true(ip.family == MCRX_IP_V4 && memcmp(ip.bytes, b4, 4) == 0);
    if (v6)
        assert_true(ip.family == MCRX_IP_V6 && memcmp(ip.bytes, b16, 16) == 0);
}

static void printer_matches_inet_ntop_on_every_zero_run_shape(void **state) {
    int i;
    (void)state;
    /* Each 16-bit group is 0, 1, ffff or random: every run shape of zero
     * groups, the mapped and compatible IPv4 forms among them. */
    for (i = 0; i < 200000; i++) {
        mcrx_ip ip;
        char ours[MCRX_IP_STRLEN], libc[INET6_ADDRSTRLEN];
        int g;
        memset(&ip, 0, sizeof ip);
        ip.family = MCRX_IP_V6;
        for (g = 0; g < 8; g++) {
            uint32_t r = next_u32(), w;
            w = (r & 3) == 0 ? 0 : (r & 3) == 1 ? 1 : (r & 3) == 2 ? 0xffff : (r >> 8) & 0xffff;
            if ((r >> 4) & 1)
                w = 0; /* more zeros: longer runs */
            ip.bytes[2 * g] = (uint8_t)(w >> 8);
            ip.bytes[2 * g + 1] = (uint8_t)w;
        }
        assert_non_null(inet_ntop(AF_INET6, ip.bytes, libc, sizeof libc));
        assert_true(mcrx_ip_format(&ip, ours, sizeof ours) > 0);
        if (strcmp(ours, libc) != 0)
            fail_msg("printed '%s', glibc '%s'", ours, libc);
        same_as_libc(ours); /* and it parses back the same */
    }
    for (i = 0; i < 20000; i++) {
        mcrx_ip ip;
        char ours[MCRX_IP_STRLEN], libc[INET_ADDRSTRLEN];
        uint32_t r = next_u32();
        memset(&ip, 0, sizeof ip);
        ip.family = MCRX_IP_V4;
        memcpy(ip.bytes, &r, 4);
        assert_non_null(inet_ntop(AF_INET, ip.bytes, libc, sizeof libc));
        assert_true(mcrx_ip_format(&ip, ours, sizeof ours) > 0);
        assert_string_equal(ours, libc);
    }
}

static void parser_matches_inet_pton_on_edge_cases(void **state) {
    static const char *const cases[] = {
        "", ".", ":", "::", ":::", "::1", "1::", "1:", ":1", "1::2::3", "0.0.0.0",
        "255.255.255.255", "256.0.0.0", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.02.3.4",
        "1.2.3.04", "0.0.0.00", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.4 ", " 1.2.3.4",
        "1.2.3.-4", "+1.2.3.4", "0x1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::3:4:5:6:7:8", "::1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8::", "12345::", "1234::", "abcd:EF01::", "g::", "::ffff:1.2.3.4",
        "::1.2.3.4", "::1.2.3.4:5", "1.2.3.4::", "::ffff:1.2.3", "::ffff:01.2.3.4",
        "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5::1.2.3.4",
        "::ffff:256.1.1.1", "::1.2.3.4.5", "::a.b.c.d", "ff02::1", "FF02::1", "ff02::1%",
        "fe80::1:2:3:4", "::0:0:0", "0:0:0:0:0:0:0:0", "0000:0000:0000:0000:0000:0000:0000:0000",
        "00000::", "::00000", "1:2:3:4:5:6:7:8:", ":1:2:3:4:5:6:7:8", "1::2:", "1::2:3:",
        "1:::2", "::.1.2.3", "::1..2.3", "1.2.3.4\n", "232.1.1.1", "2001:db8::1",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_as_libc(cases[i]);
}

static void parser_matches_inet_pton_on_random_text(void **state) {
    static const char alphabet[] = "0123456789abcdefABCDEF:.:.:0";
    char text[48];
    int i;
    (void)state;
    for (i = 0; i < 500000; i++) {
        size_t len = next_u32() % 46, k;
        for (k = 0; k < len; k++)
            text[k] = alphabet[next_u32() % (sizeof alphabet - 1)];
        text[len] = '\0';
        same_as_libc(text);
    }
    /* Printed addresses with one character changed, dropped or doubled:
     * near misses of valid forms. */
    for (i = 0; i < 200000; i++) {
        mcrx_ip ip;
        char s[MCRX_IP_STRLEN + 2];
        size_t n, at;
        int g;
        memset(&ip, 0, sizeof ip);
        ip.family = (next_u32() & 3) == 0 ? MCRX_IP_V4 : MCRX_IP_V6;
        for (g = 0; g < 16; g++)
            ip.bytes[g] = (next_u32() & 1) ? 0 : (uint8_t)next_u32();
        n = mcrx_ip_format(&ip, s, sizeof s - 2);
        assert_true(n > 0);
        at = next_u32() % n;
        switch (next_u32() % 3) {
        case 0:
            s[at] = alphabet[next_u32() % (sizeof alphabet - 1)];
            break;
        case 1:
            memmove(s + at, s + at + 1, n - at);
            break;
        default:
            memmove(s + at + 1, s + at, n - at + 1);
            break;
        }
        same_as_libc(s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printer_matches_inet_ntop_on_every_zero_run_shape),
        cmocka_unit_test(parser_matches_inet_pton_on_edge_cases),
        cmocka_unit_test(parser_matches_inet_pton_on_random_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
