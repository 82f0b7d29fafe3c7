/* Receive with the library's own wait: no event loop and no OS call, so this
 * program builds unchanged for Linux and for Windows (docs/windows.md).
 * usage: wait_loop GROUP PORT [SOURCE|-] [COUNT] */
#include <mcrx/mcrx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    mcrx_context *ctx = mcrx_context_new();
    const char *source = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    static unsigned char arena[32 * 2048];
    mcrx_datagram dgs[32];
    uint64_t id;
    long want = argc > 4 ? atol(argv[4]) : 10, got_total = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: wait_loop GROUP PORT [SOURCE|-] [COUNT]\n");
        return 2;
    }
    if (mcrx_context_add_subscription(ctx, argv[1], (uint16_t)atoi(argv[2]), source, NULL, &id) ||
        mcrx_context_join_subscription(ctx, id)) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        mcrx_context_free(ctx);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (got_total < want) {
        size_t got = 0, i;
        int ready = 0;
        if (mcrx_context_wait(ctx, 5000, &ready) != MCRX_STATUS_OK) {
            fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
            break;
        }
        if (!ready) {
            fprintf(stderr, "timeout\n");
            break;
        }
        /* Drain what is there now, then wait again. */
        do {
            mcrx_datagrams_init(dgs, 32, arena, 2048, NULL);
            if (mcrx_context_recv_batch(ctx, dgs, 32, &got) != MCRX_STATUS_OK) {
                fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
                mcrx_context_free(ctx);
                return 1;
            }
            for (i = 0; i < got; i++)
                printf("%.*s\n", (int)dgs[i].len, (const char *)dgs[i].buf);
            got_total += (long)got;
        } while (got == 32);
        fflush(stdout);
    }
    mcrx_context_free(ctx);
    return got_total >= want ? 0 : 1;
}
