/* Test helper: joins one subscription through the library, holds it, leaves.
 * usage: tjoin GROUP PORT SOURCE|- INTERFACE|- HOLD_MS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mcrx/mcrx.h>

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    mcrx_context *ctx;
    uint64_t id;
    if (argc < 6) {
        fprintf(stderr, "usage: tjoin GROUP PORT SOURCE|- INTERFACE|- HOLD_MS\n");
        return 2;
    }
    ctx = mcrx_context_new();
    if (mcrx_context_add_subscription(ctx, argv[1], (uint16_t)atoi(argv[2]),
                                      strcmp(argv[3], "-") ? argv[3] : NULL,
                                      strcmp(argv[4], "-") ? argv[4] : NULL, &id) ||
        mcrx_context_join_subscription(ctx, id)) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        return 1;
    }
    sleep_ms(atoi(argv[5]));
    if (mcrx_context_leave_subscription(ctx, id)) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        return 1;
    }
    sleep_ms(300);
    mcrx_context_free(ctx);
    return 0;
}
