/*
 * Interface text as the tools and the C ABI take it: mcrx_parse_interface for
 * a group family chosen by the first byte, the rest as the text.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int families[] = {MCRX_IP_V4, MCRX_IP_V6, MCRX_IP_NONE, 99};
    int family = size > 0 ? families[data[0] % 4] : MCRX_IP_V6;
    char *text = fuzz_cstr(size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0);
    mcrx_ip addr;
    int64_t index;
    mcrx_error e = mcrx_parse_interface(text, family, &addr, &index);
    if (e != MCRX_ERROR_NONE) {
        fuzz_check_failure(e);
    } else {
        char buf[MCRX_IP_STRLEN];
        /* An address, an index, or both (a scoped IPv6 address). */
        FUZZ_CHECK(addr.family != MCRX_IP_NONE || index > 0);
        FUZZ_CHECK(index == MCRX_NO_INTERFACE_INDEX || (index > 0 && index <= UINT32_MAX));
        if (index != MCRX_NO_INTERFACE_INDEX)
            FUZZ_CHECK(family == MCRX_IP_V6);
        if (addr.family != MCRX_IP_NONE)
            FUZZ_CHECK(mcrx_ip_format(&addr, buf, sizeof buf) > 0);
    }
    free(text);
    return 0;
}
