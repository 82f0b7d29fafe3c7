/*
 * A subscription from text: mcrx_subscription_config_parse then _validate.
 * Input: two bytes of port, then group, source and interface separated by NUL
 * (a missing field is NULL, as callers pass it).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mcrx_subscription_config cfg;
    char *fields[3] = {NULL, NULL, NULL}, *buf;
    uint16_t port;
    mcrx_error e;
    if (size < 2)
        return 0;
    port = (uint16_t)(data[0] << 8 | data[1]);
    fuzz_fields(data + 2, size - 2, fields, 3, &buf);
    e = mcrx_subscription_config_parse(&cfg, fields[0], port, fields[1], fields[2]);
    if (e != MCRX_ERROR_NONE) {
        fuzz_check_failure(e);
    } else {
        FUZZ_CHECK(cfg.version == MCRX_SUBSCRIPTION_CONFIG_VERSION && cfg.dst_port == port);
        FUZZ_CHECK(mcrx_subscription_config_is_ssm(&cfg) == (fields[1] != NULL));
        e = mcrx_subscription_config_validate(&cfg);
        if (e != MCRX_ERROR_NONE) {
            fuzz_check_failure(e);
        } else {
            /* What validation promises about a config it passes. */
            FUZZ_CHECK(port != 0 && mcrx_ip_is_multicast(&cfg.group));
            FUZZ_CHECK(!mcrx_subscription_config_is_ssm(&cfg) ||
                       (cfg.source.family == cfg.group.family &&
                        !mcrx_ip_is_multicast(&cfg.source)));
            FUZZ_CHECK(cfg.interface.family == MCRX_IP_NONE ||
                       cfg.interface.family == cfg.group.family);
            FUZZ_CHECK(cfg.interface_index == MCRX_NO_INTERFACE_INDEX ||
                       (cfg.group.family == MCRX_IP_V6 && cfg.interface_index > 0));
        }
    }
    free(buf);
    return 0;
}
