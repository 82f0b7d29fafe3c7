/* Windows, under wine: the socket side of the API. Caller sockets (Winsock
 * SOCKETs handed to mcrx_context_add_with_socket), the socket-list tier of
 * event-loop integration (mcrx_context_fd has no handle, mcrx_context_sockets
 * lists the SOCKETs to watch), and mcrx_context_wait. */
#include <mcrx/mcrx.h>

#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdio.h>
#include <string.h>

#include "wt.h"

/* A caller's UDP socket bound to the wildcard address of family af, port. */
static SOCKET bound_socket(int af, uint16_t port) {
    struct sockaddr_storage ss;
    int one = 1, len;
    SOCKET s = socket(af, SOCK_DGRAM, IPPROTO_UDP);
    WT_CHECK(s != INVALID_SOCKET);
    WT_EQ_INT(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof one), 0);
    memset(&ss, 0, sizeof ss);
    if (af == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        WT_EQ_INT(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&one, sizeof one), 0);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
    }
    if (port != 0)
        WT_EQ_INT(bind(s, (struct sockaddr *)&ss, len), 0);
    return s;
}

static mcrx_subscription_config config(const char *group, uint16_t port, const char *iface) {
    mcrx_subscription_config cfg;
    mcrx_subscription_config_init(&cfg);
    WT_EQ_INT(mcrx_subscription_config_parse(&cfg, group, port, NULL, iface), 0);
    return cfg;
}

static int recv_wait(mcrx_context *ctx, mcrx_datagram *dg, int ms) {
    long long end = wt_now_ms() + ms;
    for (;;) {
        size_t got = 0;
        int ready = 0;
        long long left = end - wt_now_ms();
        WT_OK(ctx, mcrx_context_recv(ctx, dg, &got));
        if (got == 1)
            return 1;
        if (left <= 0)
            return 0;
        WT_OK(ctx, mcrx_context_wait(ctx, (int)left, &ready));
    }
}

static void caller_socket_receives(int af, const char *group, const char *sender,
                                   const char *iface) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    SOCKET s = bound_socket(af, port);
    mcrx_subscription_config cfg = config(group, port, iface);
    char buf[64], text[MCRX_IP_STRLEN];
    mcrx_metadata meta;
    mcrx_datagram dg;
    uint64_t id;

    WT_OK(ctx, mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)s, &id));
    WT_EQ_INT(mcrx_subscription_sock(mcrx_context_get_subscription(ctx, id)), (mcrx_sock)s);
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    wt_send(sender, group, port, "caller-socket", 1);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &meta;
    WT_EQ_INT(recv_wait(ctx, &dg, WT_WAIT_MS), 1);
    WT_EQ_INT(dg.len, 13);
    WT_EQ_INT(dg.subscription_id, id);
    mcrx_ip_format(&meta.destination_local_ip, text, sizeof text);
    WT_EQ_STR(text, group);
    WT_EQ_INT(meta.ingress_interface_index, wt_ifindex());
    /* The context owns it now: removing the subscription closes it. */
    WT_OK(ctx, mcrx_context_remove_subscription(ctx, id));
    WT_NE_INT(closesocket(s), 0);
    WT_EQ_INT(WSAGetLastError(), WSAENOTSOCK);
    mcrx_context_free(ctx);
}

static void a_callers_ipv4_winsock_socket_is_adopted_and_receives(void) {
    caller_socket_receives(AF_INET, "239.3.0.1", S_V4, NULL);
}

static void a_callers_ipv6_winsock_socket_is_adopted_and_receives(void) {
    char idx[16];
    snprintf(idx, sizeof idx, "%u", wt_ifindex());
    caller_socket_receives(AF_INET6, "ff0e::8000:301", S_V6, idx);
}

/* Each refusal names its cause, and leaves the socket to its caller. */
static void unsuitable_caller_sockets_are_refused_and_left_open(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    mcrx_subscription_config cfg = config("239.3.0.2", port, NULL);
    SOCKET other_port = bound_socket(AF_INET, wt_port());
    SOCKET v6 = bound_socket(AF_INET6, port);
    SOCKET tcp = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    SOCKET closed = bound_socket(AF_INET, wt_port());
    SOCKET good = bound_socket(AF_INET, port);
    uint64_t id;

    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_EXISTING_SOCKET_PORT_MISMATCH,
             mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)other_port, &id));
    WT_FAILS(ctx, MCRX_STATUS_ERROR, MCRX_ERROR_EXISTING_SOCKET_ADDRESS_FAMILY_MISMATCH,
             mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)v6, &id));
    WT_FAILS(ctx, MCRX_STATUS_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT,
             mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)tcp, &id));
    WT_CONTAINS(mcrx_context_last_error(ctx), "not a datagram (UDP) socket");
    WT_EQ_INT(closesocket(closed), 0);
    WT_FAILS(ctx, MCRX_STATUS_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT,
             mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)closed, &id));
    WT_CONTAINS(mcrx_context_last_error(ctx), "(WSA error 10038)");
    WT_EQ_INT(mcrx_context_last_os_error(ctx), WSAENOTSOCK);
    WT_EQ_INT(mcrx_context_subscription_count(ctx), 0);

    WT_OK(ctx, mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)good, &id));
    cfg = config("239.3.0.3", port, NULL);
    WT_FAILS(ctx, MCRX_STATUS_INVALID_ARGUMENT, MCRX_ERROR_INVALID_ARGUMENT,
             mcrx_context_add_with_socket(ctx, &cfg, (mcrx_sock)good, &id));
    WT_CONTAINS(mcrx_context_last_error(ctx), "is already owned by subscription 1");

    /* Still the caller's: they close. */
    WT_EQ_INT(closesocket(other_port), 0);
    WT_EQ_INT(closesocket(v6), 0);
    WT_EQ_INT(closesocket(tcp), 0);
    mcrx_context_free(ctx);
}

/* The socket-list tier: no single handle; the SOCKETs of the joined
 * subscriptions in id order, to watch with WSAPoll. */
static void the_context_has_no_single_handle_and_lists_its_sockets(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t pa = wt_port(), pb = wt_port();
    mcrx_sock socks[4];
    WSAPOLLFD p[2];
    uint64_t a, b, c;
    size_t n = 99;
    char buf[64];
    mcrx_datagram dg;

    WT_EQ_INT(mcrx_context_fd(ctx), MCRX_SOCK_INVALID);
    WT_EQ_INT(mcrx_context_last_error_code(ctx), MCRX_ERROR_NOT_SUPPORTED);
    WT_STARTS(mcrx_context_last_error(ctx), "MCRX: ");
    WT_CONTAINS(mcrx_context_last_error(ctx), "mcrx_context_sockets");

    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.3.0.4", pa, NULL, NULL, &a));
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "ff0e::8000:305", pb, NULL, NULL, &b));
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.3.0.6", pb, NULL, NULL, &c));
    WT_OK(ctx, mcrx_context_sockets(ctx, NULL, 0, &n));
    WT_EQ_INT(n, 0); /* bound, not joined: nothing to watch */
    WT_OK(ctx, mcrx_context_join_subscription(ctx, c));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, a));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, b));
    WT_OK(ctx, mcrx_context_sockets(ctx, NULL, 0, &n));
    WT_EQ_INT(n, 3);
    WT_OK(ctx, mcrx_context_leave_subscription(ctx, c));
    WT_OK(ctx, mcrx_context_sockets(ctx, socks, 4, &n));
    WT_EQ_INT(n, 2);
    WT_EQ_INT(socks[0], mcrx_subscription_sock(mcrx_context_get_subscription(ctx, a)));
    WT_EQ_INT(socks[1], mcrx_subscription_sock(mcrx_context_get_subscription(ctx, b)));

    /* An event loop's turn: WSAPoll on the listed sockets, then receive. */
    p[0].fd = (SOCKET)socks[0];
    p[1].fd = (SOCKET)socks[1];
    p[0].events = p[1].events = POLLRDNORM;
    p[0].revents = p[1].revents = 0;
    WT_EQ_INT(WSAPoll(p, 2, 0), 0);
    wt_send(S_V6, "ff0e::8000:305", pb, "watched", 1);
    WT_EQ_INT(WSAPoll(p, 2, WT_WAIT_MS), 1);
    WT_EQ_INT(p[0].revents, 0);
    WT_CHECK(p[1].revents & POLLRDNORM);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    WT_OK(ctx, mcrx_context_recv(ctx, &dg, &n));
    WT_EQ_INT(n, 1);
    WT_EQ_INT(dg.subscription_id, b);
    mcrx_context_free(ctx);
}

/* mcrx_context_wait: times out when idle (bounded both ways), reports data,
 * and with 0 only looks. */
static void context_wait_times_out_when_idle_and_wakes_for_data(void) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = wt_port();
    uint64_t id;
    long long t0, took;
    int ready = 7;

    /* Nothing joined: a wait only sleeps. */
    t0 = wt_now_ms();
    WT_OK(ctx, mcrx_context_wait(ctx, 100, &ready));
    WT_EQ_INT(ready, 0);
    WT_LE_INT(60, wt_now_ms() - t0);

    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.3.0.7", port, NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    t0 = wt_now_ms();
    WT_OK(ctx, mcrx_context_wait(ctx, 300, &ready));
    took = wt_now_ms() - t0;
    WT_EQ_INT(ready, 0);
    WT_LE_INT(250, took);
    WT_LE_INT(took, 1500);
    WT_OK(ctx, mcrx_context_wait(ctx, 0, &ready));
    WT_EQ_INT(ready, 0);

    wt_send(S_V4, "239.3.0.7", port, "wake", 1);
    t0 = wt_now_ms();
    WT_OK(ctx, mcrx_context_wait(ctx, WT_WAIT_MS, &ready));
    WT_EQ_INT(ready, 1);
    WT_LE_INT(wt_now_ms() - t0, 1000);
    WT_OK(ctx, mcrx_context_wait(ctx, 0, &ready));
    WT_EQ_INT(ready, 1); /* level-triggered: still queued */
    mcrx_context_free(ctx);
}

/* A SOCKET closed behind the library's back is an error, not "ready"
 * forever. */
static void a_socket_closed_outside_the_library_fails_the_wait(void) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription *sub = NULL;
    uint64_t id;
    int ready = 0;
    WT_OK(ctx, mcrx_context_add_subscription(ctx, "239.3.0.8", wt_port(), NULL, NULL, &id));
    WT_OK(ctx, mcrx_context_join_subscription(ctx, id));
    WT_OK(ctx, mcrx_context_take_subscription(ctx, id, &sub));
    mcrx_context_free(ctx);
    WT_EQ_INT(closesocket((SOCKET)mcrx_subscription_sock(sub)), 0);
    WT_EQ_INT(mcrx_subscription_wait(sub, 200, &ready), MCRX_STATUS_ERROR);
    WT_EQ_INT(mcrx_subscription_last_error_code(sub), MCRX_ERROR_RECEIVE_FAILED);
    WT_STARTS(mcrx_subscription_last_error(sub), "MCRX: ");
    WT_CONTAINS(mcrx_subscription_last_error(sub), "closed outside the library");
    mcrx_subscription_free(sub);
}

int main(int argc, char **argv) {
    static const wt_test tests[] = {
#define T(f) {#f, f}
        T(a_callers_ipv4_winsock_socket_is_adopted_and_receives),
        T(a_callers_ipv6_winsock_socket_is_adopted_and_receives),
        T(unsuitable_caller_sockets_are_refused_and_left_open),
        T(the_context_has_no_single_handle_and_lists_its_sockets),
        T(context_wait_times_out_when_idle_and_wakes_for_data),
        T(a_socket_closed_outside_the_library_fails_the_wait),
#undef T
    };
    WSADATA d;
    /* The library starts Winsock for itself; this program's own sockets
     * come first, so it starts it too. */
    if (WSAStartup(MAKEWORD(2, 2), &d) != 0)
        return 1;
    return wt_main(argc, argv, tests, sizeof tests / sizeof tests[0], 43000);
}
