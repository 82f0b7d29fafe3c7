/* Validation, address and interface parsing: pure logic, no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <mcrx/mcrx.h>

static mcrx_error check(const char *group, uint16_t port, const char *source,
                        const char *iface) {
    mcrx_subscription_config cfg;
    assert_int_equal(mcrx_subscription_config_parse(&cfg, group, port, source, iface),
                     MCRX_ERROR_NONE);
    return mcrx_subscription_config_validate(&cfg);
}

static void valid_configs_pass(void **state) {
    (void)state;
    assert_int_equal(check("239.1.2.3", 5000, NULL, NULL), MCRX_ERROR_NONE);
    assert_int_equal(check("232.1.2.3", 5000, "198.51.100.1", NULL), MCRX_ERROR_NONE);
    assert_int_equal(check("232.1.2.3", 5000, "127.0.0.1", "127.0.0.1"), MCRX_ERROR_NONE);
    assert_int_equal(check("ff0e::1234", 5000, NULL, "::1"), MCRX_ERROR_NONE);
    assert_int_equal(check("ff3e::8000:1", 5000, "2001:db8::1", "1"), MCRX_ERROR_NONE);
    assert_int_equal(check("ff32::8000:1", 5000, "fe80::1", "fe80::2%1"), MCRX_ERROR_NONE);
    /* ff3e:1:: is not in ff3x::/32, so ASM is allowed there */
    assert_int_equal(check("ff3e:1::1", 5000, NULL, NULL), MCRX_ERROR_NONE);
}

static void each_rule_has_its_own_kind(void **state) {
    (void)state;
    assert_int_equal(check("239.1.2.3", 0, NULL, NULL), MCRX_ERROR_INVALID_DESTINATION_PORT);
    assert_int_equal(check("198.51.100.1", 5000, NULL, NULL), MCRX_ERROR_INVALID_MULTICAST_GROUP);
    assert_int_equal(check("2001:db8::1", 5000, NULL, NULL), MCRX_ERROR_INVALID_MULTICAST_GROUP);
    assert_int_equal(check("232.1.2.3", 5000, NULL, NULL), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    assert_int_equal(check("ff3e::1", 5000, NULL, NULL), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    assert_int_equal(check("ff31::1", 5000, NULL, NULL), MCRX_ERROR_SSM_GROUP_REQUIRES_SOURCE);
    assert_int_equal(check("232.1.2.3", 5000, "0.0.0.0", NULL), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    assert_int_equal(check("232.1.2.3", 5000, "239.1.1.1", NULL), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    assert_int_equal(check("232.1.2.3", 5000, "255.255.255.255", NULL),
                     MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    assert_int_equal(check("ff3e::1", 5000, "::", NULL), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    assert_int_equal(check("ff3e::1", 5000, "ff02::1", NULL), MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    assert_int_equal(check("232.1.2.3", 5000, "2001:db8::1", NULL),
                     MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH);
    assert_int_equal(check("ff3e::1", 5000, "198.51.100.1", NULL),
                     MCRX_ERROR_SOURCE_ADDRESS_FAMILY_MISMATCH);
    assert_int_equal(check("239.1.2.3", 5000, "198.51.100.1", NULL),
                     MCRX_ERROR_INVALID_IPV4_SSM_GROUP);
    assert_int_equal(check("ff0e::1", 5000, "2001:db8::1", NULL),
                     MCRX_ERROR_INVALID_IPV6_SSM_GROUP);
    assert_int_equal(check("ff3e:1::1", 5000, "2001:db8::1", NULL),
                     MCRX_ERROR_INVALID_IPV6_SSM_GROUP);
    assert_int_equal(check("239.1.2.3", 5000, NULL, "2001:db8::2"),
                     MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH);
    assert_int_equal(check("ff0e::1", 5000, NULL, "198.51.100.2"),
                     MCRX_ERROR_INTERFACE_ADDRESS_FAMILY_MISMATCH);
}

static void index_rules(void **state) {
    mcrx_subscription_config cfg;
    (void)state;
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "239.1.2.3", 5000, NULL, NULL), 0);
    cfg.interface_index = 3;
    assert_int_equal(mcrx_subscription_config_validate(&cfg),
                     MCRX_ERROR_INTERFACE_INDEX_REQUIRES_IPV6);
    cfg.interface_index = 0;
    assert_int_equal(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE_INDEX);
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "ff0e::1", 5000, NULL, NULL), 0);
    cfg.interface_index = 0;
    assert_int_equal(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE_INDEX);
    cfg.interface_index = (int64_t)UINT32_MAX + 1;
    assert_int_equal(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_INTERFACE_INDEX);
    cfg.interface_index = 7;
    assert_int_equal(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_NONE);
}

static void rules_apply_in_the_seed_order(void **state) {
    (void)state;
    /* port is checked before the group, the group before the source ... */
    assert_int_equal(check("198.51.100.1", 0, NULL, NULL), MCRX_ERROR_INVALID_DESTINATION_PORT);
    assert_int_equal(check("198.51.100.1", 1, "0.0.0.0", NULL),
                     MCRX_ERROR_INVALID_MULTICAST_GROUP);
    assert_int_equal(check("239.1.1.1", 1, "0.0.0.0", "2001:db8::1"),
                     MCRX_ERROR_INVALID_SOURCE_ADDRESS);
    assert_int_equal(check("239.1.1.1", 1, "198.51.100.1", "2001:db8::1"),
                     MCRX_ERROR_INVALID_IPV4_SSM_GROUP);
}

static void messages_start_with_mcrx(void **state) {
    int k;
    (void)state;
    for (k = 0; k < MCRX_ERROR_COUNT_; k++)
        assert_memory_equal(mcrx_error_message(k), "MCRX: ", 6);
    assert_string_equal(mcrx_error_message(MCRX_ERROR_INVALID_DESTINATION_PORT),
                        "MCRX: invalid destination port");
    assert_string_equal(mcrx_error_message(MCRX_ERROR_INVALID_IPV4_SSM_GROUP),
                        "MCRX: IPv4 SSM groups must use the 232.0.0.0/8 range");
    assert_string_equal(mcrx_error_name(MCRX_ERROR_SUBSCRIPTION_NOT_FOUND),
                        "SUBSCRIPTION_NOT_FOUND");
    assert_string_equal(mcrx_error_message(-1), "MCRX: unknown error");
    /* validation leaves its message for the thread */
    check("239.1.2.3", 0, NULL, NULL);
    assert_string_equal(mcrx_last_error(), "MCRX: invalid destination port");
    assert_int_equal(mcrx_last_error_code(), MCRX_ERROR_INVALID_DESTINATION_PORT);
}

static void interface_strings(void **state) {
    mcrx_ip ip;
    int64_t idx;
    char text[MCRX_IP_STRLEN];
    (void)state;
    assert_int_equal(mcrx_parse_interface("fe80::1%7", MCRX_IP_V6, &ip, &idx), 0);
    assert_int_equal(idx, 7);
    mcrx_ip_format(&ip, text, sizeof text);
    assert_string_equal(text, "fe80::1%7");
    assert_int_equal(mcrx_parse_interface("fe80::1%lo", MCRX_IP_V6, &ip, &idx), 0);
    assert_int_equal(idx, 1); /* lo is index 1 in every namespace */
    assert_int_equal(mcrx_parse_interface("7", MCRX_IP_V6, &ip, &idx), 0);
    assert_int_equal(ip.family, MCRX_IP_NONE);
    assert_int_equal(idx, 7);
    assert_int_equal(mcrx_parse_interface("2001:db8::2", MCRX_IP_V6, &ip, &idx), 0);
    assert_int_equal(ip.family, MCRX_IP_V6);
    assert_int_equal(idx, MCRX_NO_INTERFACE_INDEX);
    assert_int_equal(mcrx_parse_interface("198.51.100.2", MCRX_IP_V4, &ip, &idx), 0);
    assert_int_equal(ip.family, MCRX_IP_V4);

    assert_int_equal(mcrx_parse_interface("7", MCRX_IP_V4, &ip, &idx), MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_parse_interface("", MCRX_IP_V6, &ip, &idx), MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_parse_interface("0", MCRX_IP_V6, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE_INDEX);
    /* a scope of 0 is a parse error; a bare index 0 fails like validation */
    assert_int_equal(mcrx_parse_interface("fe80::1%0", MCRX_IP_V6, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE);
    assert_non_null(strstr(mcrx_last_error(), "must not be 0"));
    assert_int_equal(mcrx_parse_interface("fe80::1%nosuchif0", MCRX_IP_V6, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE);
    assert_non_null(strstr(mcrx_last_error(), "unknown interface name"));
    assert_int_equal(mcrx_parse_interface("nothing%7", MCRX_IP_V6, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_parse_interface("fe80::1%", MCRX_IP_V6, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_parse_interface("99999999999", MCRX_IP_V6, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_parse_interface("eth0", MCRX_IP_V4, &ip, &idx),
                     MCRX_ERROR_INVALID_INTERFACE);
    assert_int_equal(mcrx_parse_interface(NULL, MCRX_IP_V4, &ip, &idx),
                     MCRX_ERROR_INVALID_ARGUMENT);
}

static void addresses_round_trip(void **state) {
    mcrx_ip a, b;
    char text[MCRX_IP_STRLEN];
    unsigned char sa[128];
    uint16_t port = 0;
    (void)state;
    assert_int_equal(mcrx_ip_parse("239.1.2.3", &a), 0);
    assert_int_equal(a.family, MCRX_IP_V4);
    assert_true(mcrx_ip_is_multicast(&a));
    assert_int_equal(mcrx_ip_format(&a, text, sizeof text), strlen("239.1.2.3"));
    assert_string_equal(text, "239.1.2.3");
    assert_int_equal(mcrx_ip_format(&a, text, 4), 0); /* too small: nothing written */
    assert_int_equal(mcrx_ip_parse("ff3e::8000:1234", &b), 0);
    assert_true(mcrx_ip_is_multicast(&b));
    assert_false(mcrx_ip_equal(&a, &b));
    assert_true(mcrx_ip_to_sockaddr(&b, 5000, sa, sizeof sa) > 0);
    assert_int_equal(mcrx_ip_from_sockaddr((const struct sockaddr *)(void *)sa, &a, &port), 0);
    assert_true(mcrx_ip_equal(&a, &b));
    assert_int_equal(port, 5000);
    assert_int_equal(mcrx_ip_to_sockaddr(&b, 1, sa, 8), 0);
    assert_int_equal(mcrx_ip_parse("239.1.2", &a), MCRX_ERROR_INVALID_ADDRESS);
    assert_int_equal(mcrx_ip_parse("", &a), MCRX_ERROR_INVALID_ADDRESS);
    assert_int_equal(mcrx_subscription_config_parse(&(mcrx_subscription_config){0}, "nope", 1,
                                                    NULL, NULL),
                     MCRX_ERROR_INVALID_ADDRESS);
    assert_non_null(strstr(mcrx_last_error(), "invalid group IP address"));
}

static void unset_config_is_rejected(void **state) {
    mcrx_subscription_config cfg;
    (void)state;
    memset(&cfg, 0, sizeof cfg); /* not through init: no version */
    assert_int_equal(mcrx_subscription_config_validate(&cfg), MCRX_ERROR_INVALID_ARGUMENT);
    assert_int_equal(mcrx_subscription_config_validate(NULL), MCRX_ERROR_INVALID_ARGUMENT);
}

static void datagram_slots_split_an_arena(void **state) {
    unsigned char arena[4 * 100];
    mcrx_datagram dgs[4];
    mcrx_metadata metas[4];
    (void)state;
    mcrx_datagrams_init(dgs, 4, arena, 100, metas);
    assert_ptr_equal(dgs[2].buf, arena + 200);
    assert_int_equal(dgs[3].cap, 100);
    assert_ptr_equal(dgs[1].meta, &metas[1]);
    assert_int_equal(dgs[0].len, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_configs_pass),
        cmocka_unit_test(each_rule_has_its_own_kind),
        cmocka_unit_test(index_rules),
        cmocka_unit_test(rules_apply_in_the_seed_order),
        cmocka_unit_test(messages_start_with_mcrx),
        cmocka_unit_test(interface_strings),
        cmocka_unit_test(addresses_round_trip),
        cmocka_unit_test(unset_config_is_rejected),
        cmocka_unit_test(datagram_slots_split_an_arena),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
