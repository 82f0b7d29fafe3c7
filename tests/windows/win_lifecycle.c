/* Windows, under wine: a subscription's lifecycle through the public API and
 * the C ABI, ids, states, and every failure's kind and "MCRX: " message,
 * including the Winsock error texts. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdio.h>
#include <string.h>

#include <mcrx/mcrx.h>

#include "wt.h"

static mcrx_subscription_config parsed(const char *group, uint16_t port, const char *source,
                                       const char *iface) {
    mcrx_subscription_config cfg;
    mcrx_subscription_config_init(&cfg);
    WT_EQ_INT(mcrx_subscription_config_parse(&cfg, group, port, source, iface), 0);
    return cfg;
}

static void add_join_leave_remove_move_through_states_with_fresh_ids(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    mcrx_subscription_config cfg = parsed("239.1.0.1", port, NULL, NULL);
    mcrx_subscription *sub;
    uint64_t id = 0, id2 = 0;

    WT_OK(ctx, mcrx_context_add(ctx, &cfg, &id));
    WT_EQ_INT(id, 1);
    WT_EQ_INT(mcrx_context_subscription_count(ctx), 1);
    WT_CHECK(mcrx_context_contains_subscription(ctx, id));
    sub = mcrx_context_get_subscription(ctx, id);
    WT_CHECK(sub != NULL);
    WT_EQ_INT(mcrx_subscription_id(sub), id);
    WT_EQ_INT(mcrx_subscription_state(sub), MCRX_STATE_BOUND);
    WT_NE_INT(mcrx_subscription_sock(sub), MCRX_SOCK_INVALID);

    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_EQ_INT(mcrx_subscription_state(sub), MCRX_STATE_JOINED);
    WT_EQ_STR(mcrx_context_last_error(ctx), "");
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED,
             mcrx_context_join_subscription(ctx, id));
    WT_EQ_INT(mcrx_subscription_state(sub), MCRX_STATE_JOINED);

    WT_OK(ctx, mcrx_context_leave_subscription(ctx, id));
    WT_EQ_INT(mcrx_subscription_state(sub), MCRX_STATE_BOUND);
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SUBSCRIPTION_NOT_JOINED,
             mcrx_context_leave_subscription(ctx, id));

    WT_OK(ctx, mcrx_context_remove_subscription(ctx, id));
    WT_EQ_INT(mcrx_context_subscription_count(ctx), 0);
    WT_CHECK(!mcrx_context_contains_subscription(ctx, id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND,
             mcrx_context_remove_subscription(ctx, id));
    WT_STARTS(mcrx_context_last_error(ctx), "MCRX: subscription not found");
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND,
             mcrx_context_join_subscription(ctx, 99));

    /* Ids are never reused. */
    WT_OK(ctx, mcrx_context_add(ctx, &cfg, &id2));
    WT_EQ_INT(id2, 2);
    mcrx_context_free(ctx);
}

static void the_c_abi_adds_by_text_and_reports_bad_input(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id = 0;

    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.1.0.2", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "ff0e::8000:1", port, NULL, NULL, &id));
    WT_EQ_INT(id, 2);
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_DUPLICATE_SUBSCRIPTION,
             mcrx_context_add_subscription(ctx, "239.1.0.2", port, NULL, NULL, &id));
    WT_FAILS(ctx, MCRX_STATUS_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ADDRESS,
             mcrx_context_add_subscription(ctx, "not-an-address", port, NULL, NULL, &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_INVALID_MULTICAST_GROUP,
             mcrx_context_add_subscription(ctx, R_V4, port, NULL, NULL, &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE,
             mcrx_context_add_subscription(ctx, "232.1.0.2", port, NULL, NULL, &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_INVALID_DESTINATION_PORT,
             mcrx_context_add_subscription(ctx, "239.1.0.2", 0, NULL, NULL, &id));
    WT_FAILS(ctx, MCRX_STATUS_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT,
             mcrx_context_add_subscription(ctx, NULL, port, NULL, NULL, &id));
    WT_EQ_INT(mcrx_context_subscription_count(ctx), 2);
    mcrx_context_free(ctx);
}

/* Winsock refuses the join: the message names the option, Windows' text for
 * the WSA code and the code itself; the OS error is the WSA code. */
static void a_join_on_an_address_no_interface_has_fails_with_the_wsa_error(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint64_t id;
    const char *msg;
    char text[256], code[32];
    int os;

    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.1.0.3", wt_port(), NULL, "192.0.2.77",
                                             &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_MULTICAST_JOIN_FAILED,
             mcrx_context_join_subscription(ctx, id));
    msg = mcrx_context_last_error(ctx);
    os = mcrx_context_last_os_error(ctx);
    /* Windows documents WSAEADDRNOTAVAIL here; wine 8 passes on Linux's
     * ENODEV as WSAEINVAL. Either way the message carries that code. */
    WT_CHECK(os == WSAEADDRNOTAVAIL || os == WSAEINVAL);
    WT_CONTAINS(msg, "IP_ADD_MEMBERSHIP: ");
    snprintf(code, sizeof code, "(WSA error %d)", os);
    WT_CONTAINS(msg, code);
    if (os == WSAEADDRNOTAVAIL)
        WT_CONTAINS(msg, "no local interface has that address");
    /* The text between is the system's own (FormatMessage), not a number. */
    WT_CHECK(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                            (DWORD)os, MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), text,
                            sizeof text, NULL) > 0);
    text[strcspn(text, ".\r\n")] = '\0';
    WT_CONTAINS(msg, text);
    WT_EQ_INT(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
              MCRX_STATE_BOUND);
    mcrx_context_free(ctx);
}

/* What Windows lacks is NOT_SUPPORTED with the reason, at add. */
static void kernel_timestamps_and_drop_counts_are_not_supported(void) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg = parsed("239.1.0.4", wt_port(), NULL, NULL);
    uint64_t id;
    cfg.rx_options |= MCRX_RX_TIMESTAMP;
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_NOT_SUPPORTED, mcrx_context_add(ctx, &cfg, &id));
    WT_CONTAINS(mcrx_context_last_error(ctx), "MCRX_RX_TIMESTAMP");
    cfg.rx_options = MCRX_RX_PKTINFO | MCRX_RX_DROPS;
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_NOT_SUPPORTED, mcrx_context_add(ctx, &cfg, &id));
    WT_EQ_INT(mcrx_context_subscription_count(ctx), 0);
    mcrx_context_free(ctx);
}

static void an_ipv6_interface_index_that_does_not_exist_is_refused_at_add(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint64_t id;
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED,
             mcrx_context_add_subscription(ctx, "ff0e::8000:4", wt_port(), NULL, "4000", &id));
    WT_CONTAINS(mcrx_context_last_error(ctx), "interface index 4000 does not exist");
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED,
             mcrx_context_add_subscription(ctx, "ff0e::8000:4", wt_port(), NULL,
                                           "2001:db8:9::9", &id));
    WT_CONTAINS(mcrx_context_last_error(ctx), "2001:db8:9::9");
    mcrx_context_free(ctx);
}

/* The socket is bound to the wildcard (Windows will not bind to a group),
 * and reports its buffer. */
static void a_subscription_reports_its_wildcard_address_and_buffer(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port(), got_port = 0;
    mcrx_subscription_config cfg = parsed("ff0e::8000:5", port, NULL, NULL);
    mcrx_subscription *sub;
    char text[MCRX_IP_STRLEN];
    size_t bytes = 0;
    mcrx_ip ip;
    uint64_t id;

    cfg.rcvbuf_bytes = 1 << 20;
    WT_OK(ctx, mcrx_context_add(ctx, &cfg, &id));
    sub = mcrx_context_get_subscription(ctx, id);
    WT_EQ_INT(mcrx_subscription_local_addr(sub, &ip, &got_port), 0);
    WT_EQ_INT(got_port, port);
    WT_CHECK(mcrx_ip_format(&ip, text, sizeof text) > 0);
    WT_EQ_STR(text, "::");
    WT_EQ_INT(mcrx_subscription_rcvbuf(sub, &bytes), 0);
    WT_CHECK(bytes >= (size_t)1 << 20);
    mcrx_context_free(ctx);
}

/* A taken subscription stays joined and receives on its own; into_sock
 * hands back a live Winsock SOCKET. */
static void a_taken_subscription_keeps_receiving_and_gives_back_its_socket(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    mcrx_subscription *sub = NULL, *again = NULL;
    mcrx_datagram dg;
    char buf[64];
    size_t got = 0;
    uint64_t id;
    int type = 0, tlen = sizeof type, ready = 0;
    mcrx_sock s;

    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.1.0.6", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_OK(ctx, mcrx_context_take_subscription(ctx, id, &sub));
    WT_EQ_INT(mcrx_context_subscription_count(ctx), 0);
    WT_EQ_INT(mcrx_subscription_state(sub), MCRX_STATE_JOINED);
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND,
             mcrx_context_take_subscription(ctx, id, &again));
    WT_CHECK(again == NULL);
    mcrx_context_free(ctx);

    wt_send(S_V4, "239.1.0.6", port, "taken", 1);
    WT_SUB_OK(sub, mcrx_subscription_wait(sub, WT_WAIT_MS, &ready));
    WT_EQ_INT(ready, 1);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    WT_SUB_OK(sub, mcrx_subscription_recv(sub, &dg, &got));
    WT_EQ_INT(got, 1);
    WT_EQ_INT(dg.len, 5);
    WT_CHECK(memcmp(buf, "taken", 5) == 0);
    WT_EQ_INT(dg.subscription_id, id);

    WT_EQ_INT(mcrx_subscription_leave_group(sub), 0);
    WT_EQ_INT(mcrx_subscription_state(sub), MCRX_STATE_BOUND);
    WT_EQ_INT(mcrx_subscription_recv(sub, &dg, &got), MCRX_STATUS_ERROR);
    WT_EQ_INT(mcrx_subscription_last_error_code(sub), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    WT_STARTS(mcrx_subscription_last_error(sub), "MCRX: ");
    WT_EQ_INT(mcrx_subscription_join_group(sub), 0);

    s = mcrx_subscription_into_sock(sub);
    WT_NE_INT(s, MCRX_SOCK_INVALID);
    WT_EQ_INT(getsockopt((SOCKET)s, SOL_SOCKET, SO_TYPE, (char *)&type, &tlen), 0);
    WT_EQ_INT(type, SOCK_DGRAM);
    WT_EQ_INT(closesocket((SOCKET)s), 0);
}

static void null_arguments_fail_with_a_message_and_never_crash(void) {
    uint64_t id;
    size_t got = 7;
    WT_EQ_INT(mcrx_context_add_subscription(NULL, "239.1.0.7", 1, NULL, NULL, &id),
              MCRX_STATUS_INVALID_ARGUMENT);
    WT_STARTS(mcrx_last_error(), "MCRX: ");
    WT_EQ_INT(mcrx_context_poll(NULL, 1, NULL, NULL, &got), MCRX_STATUS_INVALID_ARGUMENT);
    WT_EQ_INT(mcrx_context_stop(NULL), MCRX_STATUS_INVALID_ARGUMENT);
    WT_EQ_INT(mcrx_context_subscription_count(NULL), 0);
    mcrx_context_free(NULL);
    mcrx_subscription_free(NULL);
    WT_EQ_STR(mcrx_ffi_version(), MCRX_VERSION_STRING);
}

int main(int argc, char **argv) {
    static const wt_test tests[] = {
#define T(f) {#f, f}
        T(add_join_leave_remove_move_through_states_with_fresh_ids),
        T(the_c_abi_adds_by_text_and_reports_bad_input),
        T(a_join_on_an_address_no_interface_has_fails_with_the_wsa_error),
        T(kernel_timestamps_and_drop_counts_are_not_supported),
        T(an_ipv6_interface_index_that_does_not_exist_is_refused_at_add),
        T(a_subscription_reports_its_wildcard_address_and_buffer),
        T(a_taken_subscription_keeps_receiving_and_gives_back_its_socket),
        T(null_arguments_fail_with_a_message_and_never_crash),
#undef T
    };
    return wt_main(argc, argv, tests, sizeof tests / sizeof tests[0], 41000);
}
