/*
 * Context and subscription lifecycle: ids, duplicates, state errors, caller
 * sockets and kernel refusals. Joins send IGMP/MLD reports, so this runs on
 * the private network of scripts/netns-run.sh too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static uint64_t add(mcrx_context *ctx, const char *group, uint16_t port, const char *source,
                    const char *iface) {
    uint64_t id = 0;
    int rc = mcrx_context_add_subscription(ctx, group, port, source, iface, &id);
    if (rc != 0)
        fail_msg("add %s: %s", group, mcrx_context_last_error(ctx));
    return id;
}

static void ids_start_at_one_and_are_never_reused(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    (void)state;
    assert_int_equal(add(ctx, "239.2.0.1", port, NULL, NULL), 1);
    assert_int_equal(add(ctx, "239.2.0.2", port, NULL, NULL), 2);
    assert_int_equal(mcrx_context_remove_subscription(ctx, 2), 0);
    assert_int_equal(add(ctx, "239.2.0.2", port, NULL, NULL), 3);
    assert_int_equal(mcrx_context_subscription_count(ctx), 2);
    assert_true(mcrx_context_contains_subscription(ctx, 1));
    assert_false(mcrx_context_contains_subscription(ctx, 2));
    assert_int_equal(mcrx_subscription_id(mcrx_context_subscription_at(ctx, 0)), 1);
    assert_int_equal(mcrx_subscription_id(mcrx_context_subscription_at(ctx, 1)), 3);
    assert_null(mcrx_context_subscription_at(ctx, 2));
    assert_null(mcrx_context_get_subscription(ctx, 2));
    assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(ctx, 3)),
                     MCRX_STATE_BOUND);
    mcrx_context_free(ctx);
}

static void duplicates_are_rejected(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    uint64_t id;
    (void)state;
    add(ctx, "232.2.0.1", port, S_V4, NULL);
    assert_int_equal(mcrx_context_add_subscription(ctx, "232.2.0.1", port, S_V4, NULL, &id),
                     MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "MCRX: duplicate subscription"));
    /* same group and port with another source or interface is a new subscription */
    add(ctx, "232.2.0.1", port, S_V4_OTHER, NULL);
    add(ctx, "232.2.0.1", port, S_V4, R_V4);
    assert_int_equal(mcrx_context_subscription_count(ctx), 3);
    mcrx_context_free(ctx);
}

static void state_errors_leave_state_unchanged(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription *sub = NULL;
    uint16_t port = th_port();
    uint64_t id;
    (void)state;
    id = add(ctx, "239.2.0.3", port, NULL, NULL);
    assert_int_equal(mcrx_context_leave_subscription(ctx, id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_SUBSCRIPTION_NOT_JOINED);
    assert_int_equal(mcrx_context_join_subscription(ctx, id), 0);
    assert_string_equal(mcrx_context_last_error(ctx), ""); /* cleared by success */
    assert_int_equal(mcrx_context_join_subscription(ctx, id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED);
    assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
                     MCRX_STATE_JOINED);
    assert_int_equal(mcrx_context_leave_subscription(ctx, id), 0);
    assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
                     MCRX_STATE_BOUND);

    assert_int_equal(mcrx_context_join_subscription(ctx, 99), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    assert_int_equal(mcrx_context_leave_subscription(ctx, 99), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    assert_int_equal(mcrx_context_remove_subscription(ctx, 99), MCRX_STATUS_ERROR);
    assert_string_equal(mcrx_context_last_error(ctx), "MCRX: subscription not found: id 99");
    assert_int_equal(mcrx_context_take_subscription(ctx, 99, &sub), MCRX_STATUS_ERROR);
    assert_null(sub);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_SUBSCRIPTION_NOT_FOUND);
    mcrx_context_free(ctx);
}

/* A join the kernel refuses keeps the subscription Bound and says why. */
static void failed_join_names_the_cause(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    uint64_t id;
    (void)state;
    /* 203.0.113.99 is on no interface of the receiver */
    id = add(ctx, "239.2.0.4", port, NULL, "203.0.113.99");
    assert_int_equal(mcrx_context_join_subscription(ctx, id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_MULTICAST_JOIN_FAILED);
    assert_int_not_equal(mcrx_context_last_os_error(ctx), 0);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "MCRX: failed to join multicast group"));
    assert_non_null(strstr(mcrx_context_last_error(ctx), "IP_ADD_MEMBERSHIP"));
    assert_int_equal(mcrx_subscription_state(mcrx_context_get_subscription(ctx, id)),
                     MCRX_STATE_BOUND);
    /* An IPv6 interface address no interface has cannot be resolved. */
    assert_int_equal(mcrx_context_add_subscription(ctx, "ff0e::8000:5", port, NULL,
                                                   "2001:db8:9::9", &id),
                     MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_INTERFACE_DISCOVERY_FAILED);
    /* So is an interface index that does not exist. */
    assert_int_equal(mcrx_context_add_subscription(ctx, "ff0e::8000:5", port, NULL, "4000", &id),
                     MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_INTERFACE_DISCOVERY_FAILED);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "interface index 4000 does not exist"));
    mcrx_context_free(ctx);
}

static int bound_udp(int family, uint16_t port) {
    int fd = socket(family, SOCK_DGRAM, 0), one = 1;
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        len = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        len = sizeof(struct sockaddr_in6);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    return fd;
}

/* The kernel's per-socket membership limit, reached through one caller socket
 * shared by 21 subscriptions, is named in the error. */
static void the_21st_join_names_igmp_max_memberships(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int fd = bound_udp(AF_INET, port), i;
    (void)state;
    for (i = 1; i <= 21; i++) {
        mcrx_subscription_config cfg;
        char group[32];
        uint64_t id;
        int rc;
        snprintf(group, sizeof group, "239.3.0.%d", i);
        mcrx_subscription_config_parse(&cfg, group, port, NULL, NULL);
        assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, dup(fd), &id), 0);
        rc = mcrx_context_join_subscription(ctx, id);
        if (i <= 20) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, MCRX_STATUS_ERROR);
        assert_int_equal(mcrx_context_last_os_error(ctx), ENOBUFS);
        assert_non_null(strstr(mcrx_context_last_error(ctx), "net.ipv4.igmp_max_memberships"));
    }
    close(fd);
    mcrx_context_free(ctx);
}

/* Our own sockets have one membership each, so the limit never bites. */
static void many_subscriptions_are_not_limited_by_igmp_max_memberships(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    int i;
    (void)state;
    for (i = 1; i <= 60; i++) {
        char group[32];
        snprintf(group, sizeof group, "239.4.0.%d", i);
        th_add_join(ctx, group, port, NULL, NULL);
    }
    assert_int_equal(mcrx_context_subscription_count(ctx), 60);
    mcrx_context_free(ctx);
}

static void caller_socket_errors(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    uint16_t port = th_port();
    uint64_t id;
    int fd;
    (void)state;
    mcrx_subscription_config_parse(&cfg, "239.2.0.6", port, NULL, NULL);

    fd = socket(AF_INET, SOCK_DGRAM, 0); /* not bound: port 0 */
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_EXISTING_SOCKET_PORT_MISMATCH);
    assert_non_null(strstr(mcrx_context_last_error(ctx), "actual 0"));
    close(fd);

    fd = bound_udp(AF_INET, (uint16_t)(port + 1));
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_EXISTING_SOCKET_PORT_MISMATCH);
    close(fd);

    fd = bound_udp(AF_INET6, port);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx),
                     MCRX_ERROR_EXISTING_SOCKET_ADDRESS_FAMILY_MISMATCH);
    close(fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id),
                     MCRX_STATUS_INVALID_ARGUMENT);
    close(fd);

    /* a blocking, bound socket is accepted and made non-blocking */
    fd = bound_udp(AF_INET, port);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), 0);
    assert_int_not_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(mcrx_subscription_sock(mcrx_context_get_subscription(ctx, id)), fd);
    assert_int_equal(mcrx_context_add_with_socket(ctx, &cfg, fd, &id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_DUPLICATE_SUBSCRIPTION);
    mcrx_context_free(ctx); /* closes fd */
    assert_int_equal(fcntl(fd, F_GETFL), -1);
}

static void validation_errors_reach_the_context(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    uint64_t id;
    (void)state;
    mcrx_subscription_config_parse(&cfg, "239.2.0.7", 0, NULL, NULL);
    assert_int_equal(mcrx_context_add(ctx, &cfg, &id), MCRX_STATUS_ERROR);
    assert_int_equal(mcrx_context_last_error_code(ctx), MCRX_ERROR_INVALID_DESTINATION_PORT);
    assert_string_equal(mcrx_context_last_error(ctx), "MCRX: invalid destination port");
    assert_int_equal(mcrx_context_add(ctx, NULL, &id), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_add(NULL, &cfg, &id), MCRX_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mcrx_context_subscription_count(ctx), 0);
    mcrx_context_free(ctx);
    mcrx_context_free(NULL);
    mcrx_subscription_free(NULL);
}

static void context_fd_and_iteration_for_event_loops(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    uint16_t port = th_port();
    size_t i;
    (void)state;
    assert_true(mcrx_context_fd(ctx) >= 0);
    add(ctx, "239.2.0.8", port, NULL, NULL);
    add(ctx, "239.2.0.9", port, NULL, NULL);
    for (i = 0; i < mcrx_context_subscription_count(ctx); i++) {
        mcrx_subscription *sub = mcrx_context_subscription_at(ctx, i);
        mcrx_ip ip;
        uint16_t p;
        assert_true(mcrx_subscription_sock(sub) >= 0);
        assert_int_equal(mcrx_subscription_local_addr(sub, &ip, &p), 0);
        assert_int_equal(p, port);
        assert_true(mcrx_ip_equal(&ip, &mcrx_subscription_get_config(sub)->group));
    }
    assert_false(th_readable(mcrx_context_fd(ctx), 0));
    mcrx_context_free(ctx);
}

/* A subscription's socket closed by the caller: the per-subscription calls
 * say so instead of waiting or reporting nothing forever. */
static void socket_closed_underneath_is_reported(void **state) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription *sub = NULL;
    unsigned char buf[64];
    mcrx_datagram dg;
    size_t got = 1;
    int ready = 0;
    uint64_t id = th_add_join(ctx, "239.2.0.40", th_port(), NULL, NULL);
    (void)state;
    assert_int_equal(mcrx_context_take_subscription(ctx, id, &sub), 0);
    close((int)mcrx_subscription_sock(sub));
    if (strcmp(mcrx_context_backend(ctx), "io_uring") == 0) {
        /* The ring's armed request holds its own reference to the socket:
         * closing the number does not end it, so nothing is reported (the
         * documented difference of that backend). */
        assert_int_equal(mcrx_subscription_wait(sub, 100, &ready), 0);
        assert_int_equal(ready, 0);
        mcrx_datagram_init(&dg, buf, sizeof buf);
        assert_int_equal(mcrx_subscription_recv(sub, &dg, &got), 0);
        assert_int_equal(got, 0);
        mcrx_subscription_free(sub);
        mcrx_context_free(ctx);
        return;
    }
    assert_int_equal(mcrx_subscription_wait(sub, 1000, &ready), MCRX_STATUS_ERROR);
    assert_int_equal(ready, 0);
    assert_int_equal(mcrx_subscription_last_error_code(sub), MCRX_ERROR_RECEIVE_FAILED);
    assert_non_null(strstr(mcrx_subscription_last_error(sub), "closed outside the library"));
    mcrx_datagram_init(&dg, buf, sizeof buf);
    assert_int_equal(mcrx_subscription_recv(sub, &dg, &got), MCRX_STATUS_ERROR);
    assert_int_equal(got, 0);
    assert_int_equal(mcrx_subscription_last_os_error(sub), EBADF);
    assert_non_null(strstr(mcrx_subscription_last_error(sub), "closed outside the library"));
    mcrx_subscription_free(sub); /* closes the number again: nothing else holds it here */
    mcrx_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_start_at_one_and_are_never_reused),
        cmocka_unit_test(duplicates_are_rejected),
        cmocka_unit_test(state_errors_leave_state_unchanged),
        cmocka_unit_test(failed_join_names_the_cause),
        cmocka_unit_test(the_21st_join_names_igmp_max_memberships),
        cmocka_unit_test(many_subscriptions_are_not_limited_by_igmp_max_memberships),
        cmocka_unit_test(caller_socket_errors),
        cmocka_unit_test(validation_errors_reach_the_context),
        cmocka_unit_test(context_fd_and_iteration_for_event_loops),
        cmocka_unit_test(socket_closed_underneath_is_reported),
    };
    th_init();
    return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
