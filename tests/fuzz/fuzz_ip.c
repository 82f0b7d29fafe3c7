/*
 * Address text: mcrx_ip_parse on any bytes, and for what parses, the round
 * trip through mcrx_ip_format (at every buffer size) and back, and through a
 * sockaddr. The library's own parser and printer must agree with the C
 * library's inet_pton/inet_ntop (glibc) on every input without a scope.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    mcrx_ip ip, again, back;
    struct sockaddr_storage ss;
    uint16_t port = 0;
    mcrx_error e = mcrx_ip_parse(text, &ip);
    if (strchr(text, '%') == NULL) {
        unsigned char b4[4], b16[16];
        int v4 = inet_pton(AF_INET, text, b4) == 1, v6 = !v4 && inet_pton(AF_INET6, text, b16) == 1;
        FUZZ_CHECK((e == MCRX_ERROR_NONE) == (v4 || v6));
        if (v4)
            FUZZ_CHECK(ip.family == MCRX_IP_V4 && memcmp(ip.bytes, b4, 4) == 0);
        if (v6) {
            char libc[INET6_ADDRSTRLEN], ours[MCRX_IP_STRLEN];
            FUZZ_CHECK(ip.family == MCRX_IP_V6 && memcmp(ip.bytes, b16, 16) == 0);
            FUZZ_CHECK(inet_ntop(AF_INET6, b16, libc, sizeof libc) != NULL);
            FUZZ_CHECK(mcrx_ip_format(&ip, ours, sizeof ours) > 0 && strcmp(libc, ours) == 0);
        }
    }
    if (e != MCRX_ERROR_NONE) {
        fuzz_check_failure(e);
    } else {
        char full[MCRX_IP_STRLEN];
        size_t n = mcrx_ip_format(&ip, full, sizeof full), len;
        FUZZ_CHECK(ip.family == MCRX_IP_V4 || ip.family == MCRX_IP_V6);
        FUZZ_CHECK(n > 0 && n < sizeof full && strlen(full) == n);
        /* Too small a buffer gets 0 and nothing past its end. */
        for (len = 0; len <= n + 1; len++) {
            char *exact = malloc(len ? len : 1);
            FUZZ_CHECK(exact != NULL);
            FUZZ_CHECK(mcrx_ip_format(&ip, len ? exact : NULL, len) == (len > n ? n : 0));
            free(exact);
        }
        FUZZ_CHECK(mcrx_ip_parse(full, &again) == MCRX_ERROR_NONE);
        FUZZ_CHECK(mcrx_ip_equal(&ip, &again) && ip.scope_id == again.scope_id);
        FUZZ_CHECK(mcrx_ip_is_multicast(&ip) == mcrx_ip_is_multicast(&again));
        FUZZ_CHECK(mcrx_ip_to_sockaddr(&ip, 5000, &ss, sizeof ss) > 0);
        FUZZ_CHECK(mcrx_ip_from_sockaddr((const struct sockaddr *)&ss, &back, &port) ==
                   MCRX_ERROR_NONE);
        FUZZ_CHECK(port == 5000 && mcrx_ip_equal(&ip, &back));
        FUZZ_CHECK(ip.family == MCRX_IP_V4 || back.scope_id == ip.scope_id);
    }
    free(text);
    return 0;
}
