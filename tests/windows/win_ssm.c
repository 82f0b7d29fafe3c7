/*
 * Windows' source-specific multicast, as far as wine 8 lets it be proven.
 *
 * Wine 8 refuses MCAST_JOIN_SOURCE_GROUP (WSAENOPROTOOPT) and passes
 * IP_ADD_SOURCE_MEMBERSHIP's ip_mreq_source to Linux byte for byte, where
 * Linux reads the source and interface fields the other way round. So SSM
 * delivery cannot be shown under wine. What is proven here:
 * - the request structures and option numbers the library is compiled with
 *   are Windows' (the mingw-w64 headers), not Linux's;
 * - the bytes the library hands to IP_ADD_SOURCE_MEMBERSHIP are in Windows'
 *   order (source at offset 4, interface at 8): with the fields chosen so
 *   that Linux's reading of them is a valid join, the kernel's filter table
 *   (/proc/net/mcfilter) shows exactly Windows' meaning swapped;
 * - the joins wine refuses fail with a precise kind and a message naming
 *   the option and the WSA error, and leave the subscription Bound.
 * docs/windows.md lists what is and is not tested under wine.
 */
#include <mcrx/mcrx.h>

#include <winsock2.h>
#include <ws2tcpip.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "wt.h"

/* Windows' field order (ws2ipdef.h), unlike Linux's multiaddr, interface,
 * sourceaddr. */
static void ip_mreq_source_has_windows_field_order(void) {
    WT_EQ_INT(offsetof(struct ip_mreq_source, imr_multiaddr), 0);
    WT_EQ_INT(offsetof(struct ip_mreq_source, imr_sourceaddr), 4);
    WT_EQ_INT(offsetof(struct ip_mreq_source, imr_interface), 8);
    WT_EQ_INT(sizeof(struct ip_mreq_source), 12);
    WT_EQ_INT(sizeof(struct ip_mreq), 8);
}

/* RFC 3678's structures with Windows' packing: a ULONG interface, then
 * 8-aligned SOCKADDR_STORAGEs (Linux has a uint32_t and 128-byte
 * __kernel_sockaddr_storage at offset 8 too on x86-64, but its option
 * numbers differ; see below). */
static void group_source_req_has_windows_size_and_packing(void) {
    WT_EQ_INT(sizeof(SOCKADDR_STORAGE), 128);
    WT_EQ_INT(offsetof(GROUP_SOURCE_REQ, gsr_interface), 0);
    WT_EQ_INT(sizeof(((GROUP_SOURCE_REQ *)0)->gsr_interface), 4);
    WT_EQ_INT(offsetof(GROUP_SOURCE_REQ, gsr_group), 8);
    WT_EQ_INT(offsetof(GROUP_SOURCE_REQ, gsr_source), 136);
    WT_EQ_INT(sizeof(GROUP_SOURCE_REQ), 264);
    WT_EQ_INT(sizeof(struct ipv6_mreq), 20);
    WT_EQ_INT(offsetof(struct ipv6_mreq, ipv6mr_interface), 16);
}

/* The option numbers are Windows' (Linux's in brackets). */
static void membership_options_have_windows_numbers(void) {
    WT_EQ_INT(IP_ADD_MEMBERSHIP, 12);          /* 35 */
    WT_EQ_INT(IP_DROP_MEMBERSHIP, 13);         /* 36 */
    WT_EQ_INT(IP_ADD_SOURCE_MEMBERSHIP, 15);   /* 39 */
    WT_EQ_INT(IP_DROP_SOURCE_MEMBERSHIP, 16);  /* 40 */
    WT_EQ_INT(IP_BLOCK_SOURCE, 17);            /* 38 */
    WT_EQ_INT(IP_UNBLOCK_SOURCE, 18);          /* 37 */
    WT_EQ_INT(IP_PKTINFO, 19);                 /* 8 */
    WT_EQ_INT(IPV6_ADD_MEMBERSHIP, 12);        /* 20 */
    WT_EQ_INT(IPV6_PKTINFO, 19);               /* 50 */
    WT_EQ_INT(MCAST_JOIN_SOURCE_GROUP, 45);    /* 46 */
    WT_EQ_INT(MCAST_LEAVE_SOURCE_GROUP, 46);   /* 47 */
    WT_EQ_INT(MCAST_BLOCK_SOURCE, 43);         /* 43 */
    WT_EQ_INT(MCAST_UNBLOCK_SOURCE, 44);       /* 44 */
}

/* The kernel's source filters of the receiver host, as wine's programs see
 * them: finds the entry for group and source (host-order hex, as Linux
 * prints them) on the interface with index ifindex; its INCLUDE count, or
 * -1 when there is none. */
static int mcfilter_include(uint32_t ifindex, unsigned group, unsigned source) {
    FILE *f = fopen("Z:\\proc\\net\\mcfilter", "r");
    char line[256], dev[32];
    int found = -1;
    WT_CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned idx, g, src;
        unsigned long inc, exc;
        if (sscanf(line, "%u %31s 0x%x 0x%x %lu %lu", &idx, dev, &g, &src, &inc, &exc) == 6 &&
            idx == ifindex && g == group && src == source)
            found = (int)inc;
    }
    fclose(f);
    return found;
}

#define G_232_5_0_1 0xe8050001u
#define G_232_5_0_2 0xe8050002u
#define A_198_51_100_1 0xc6336401u
#define A_198_51_100_2 0xc6336402u

/* Wine 8 has no MCAST_JOIN_SOURCE_GROUP: the join fails with the kind a
 * stack without source filtering gets, naming the option and the code. */
static void under_wine_an_ipv6_ssm_join_fails_naming_mcast_join_source_group(void) {
    mcrx_context *ctx = mcrx_context_new();
    char idx[16];
    uint64_t id;
    snprintf(idx, sizeof idx, "%u", wt_ifindex());
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "ff3e::8000:501", wt_port(), S_V6, idx, &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED,
             mcrx_context_join_subscription(ctx, id));
    WT_EQ_INT(mcrx_context_last_os_error(ctx), WSAENOPROTOOPT);
    WT_CONTAINS(mcrx_context_last_error(ctx), "MCAST_JOIN_SOURCE_GROUP: ");
    WT_CONTAINS(mcrx_context_last_error(ctx), "WSAENOPROTOOPT (WSA error 10042)");
    WT_EQ_INT(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
              MCRX_STATE_BOUND);
    mcrx_context_free(ctx);
}

/* A join written for Windows, (198.51.100.1, 232.5.0.1) on 198.51.100.2:
 * Linux reads the interface field from the source's place, finds no
 * interface with the sender's address, and wine reports WSAEINVAL. The
 * failure names the option and the code; nothing reaches the filter table. */
static void under_wine_an_ipv4_ssm_join_fails_naming_ip_add_source_membership(void) {
    mcrx_context *ctx = mcrx_context_new();
    char code[32];
    uint64_t id;
    int os;
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "232.5.0.1", wt_port(), S_V4, R_V4, &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_MULTICAST_JOIN_FAILED,
             mcrx_context_join_subscription(ctx, id));
    os = mcrx_context_last_os_error(ctx);
    WT_EQ_INT(os, WSAEINVAL);
    snprintf(code, sizeof code, "(WSA error %d)", os);
    WT_CONTAINS(mcrx_context_last_error(ctx), "IP_ADD_SOURCE_MEMBERSHIP: ");
    WT_CONTAINS(mcrx_context_last_error(ctx), code);
    WT_EQ_INT(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
              MCRX_STATE_BOUND);
    WT_EQ_INT(mcfilter_include(wt_ifindex(), G_232_5_0_1, A_198_51_100_1), -1);
    mcrx_context_free(ctx);
}

/*
 * The bytes themselves. Configured with source 198.51.100.2 (the receiver's
 * own address) and interface 198.51.100.1, Windows' layout puts .2 at offset
 * 4 and .1 at offset 8; Linux reads offset 4 as the interface (vb, which has
 * .2) and offset 8 as the source. The kernel's table then shows
 * (198.51.100.1, 232.5.0.2) INCLUDE on vb: only Windows' order gives that.
 * (Linux's order would ask for an interface with address .1: none.) The
 * sender's datagrams then reach the socket, and the isolation check, which
 * knows the configured source .2, discards them. Leaving drops the entry.
 */
static void ip_add_source_membership_hands_linux_windows_byte_order(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    mcrx_subscription_metrics m;
    char buf[64];
    mcrx_datagram dg;
    size_t got = 0;
    uint64_t id;
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "232.5.0.2", port, R_V4, S_V4, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_EQ_INT(mcfilter_include(wt_ifindex(), G_232_5_0_2, A_198_51_100_1), 1);
    WT_EQ_INT(mcfilter_include(wt_ifindex(), G_232_5_0_2, A_198_51_100_2), -1);

    wt_send(S_V4, "232.5.0.2", port, "from-the-interface-field", 2);
    wt_settle();
    mcrx_datagram_init(&dg, buf, sizeof buf);
    WT_OK(ctx, mcrx_context_recv(ctx, &dg, &got));
    WT_EQ_INT(got, 0);
    WT_EQ_INT(mcrx_subscription_metrics_get(mcrx_context_get_subscription(ctx, id), &m), 0);
    WT_EQ_INT(m.discarded_other_source, 2);

    WT_OK(ctx, mcrx_context_leave_subscription(ctx, id));
    WT_EQ_INT(mcfilter_include(wt_ifindex(), G_232_5_0_2, A_198_51_100_1), -1);
    mcrx_context_free(ctx);
}

int main(int argc, char **argv) {
    static const wt_test tests[] = {
#define T(f) {#f, f}
        T(ip_mreq_source_has_windows_field_order),
        T(group_source_req_has_windows_size_and_packing),
        T(membership_options_have_windows_numbers),
        T(under_wine_an_ipv6_ssm_join_fails_naming_mcast_join_source_group),
        T(under_wine_an_ipv4_ssm_join_fails_naming_ip_add_source_membership),
        T(ip_add_source_membership_hands_linux_windows_byte_order),
#undef T
    };
    return wt_main(argc, argv, tests, sizeof tests / sizeof tests[0], 45000);
}
