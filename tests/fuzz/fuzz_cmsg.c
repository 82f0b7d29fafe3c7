/*
 * Control messages as the kernel hands them over beside a datagram, read by
 * the platform layer (mcrx__plat_parse_cmsgs): any bytes, any lengths inside.
 * The input is copied into a buffer of its exact size (malloc aligns it as
 * struct cmsghdr needs), so ASan sees a read past the end.
 */
#include <sys/socket.h>

#include "fuzz.h"
#include "platform/platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint32_t known = MCRX_META_DESTINATION | MCRX_META_INGRESS_IF | MCRX_META_TIMESTAMP |
                           MCRX_META_TTL | MCRX_META_DROPS;
    mcrx__rxinfo info;
    void *control = malloc(size ? size : 1);
    FUZZ_CHECK(control != NULL);
    FUZZ_CHECK(((uintptr_t)control % _Alignof(struct cmsghdr)) == 0);
    if (size > 0)
        memcpy(control, data, size);
    memset(&info, 0, sizeof info);
    mcrx__plat_parse_cmsgs(control, size, &info);
    FUZZ_CHECK((info.valid & ~known) == 0);
    FUZZ_CHECK(!(info.valid & MCRX_META_DESTINATION) || info.dst.family == MCRX_IP_V4 ||
               info.dst.family == MCRX_IP_V6);
    /* and an empty buffer, and none at all */
    mcrx__plat_parse_cmsgs(control, 0, &info);
    FUZZ_CHECK(info.valid == 0);
    mcrx__plat_parse_cmsgs(NULL, size, &info);
    FUZZ_CHECK(info.valid == 0);
    free(control);
    return 0;
}
