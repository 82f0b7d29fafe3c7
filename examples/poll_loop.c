/* Receive with plain poll(2): one fd for the whole context.
 * usage: poll_loop GROUP PORT [SOURCE|-] [COUNT] */
#include <mcrx/mcrx.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    const char *source = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    static unsigned char arena[32 * 2048];
    mcrx_datagram dgs[32];
    uint64_t id;
    long want = argc > 4 ? atol(argv[4]) : 10, got_total = 0;

    if (argc < 3 || mcrx_subscription_config_parse(&cfg, argv[1], (uint16_t)atoi(argv[2]),
                                                   source, NULL) != 0) {
        fprintf(stderr, "usage: poll_loop GROUP PORT [SOURCE|-] [COUNT]\n");
        return 2;
    }
    if (mcrx_context_add(ctx, &cfg, &id) || mcrx_context_join_subscription(ctx, id)) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (got_total < want) {
        struct pollfd p = {.fd = (int)mcrx_context_fd(ctx), .events = POLLIN};
        size_t got = 0, i;
        if (poll(&p, 1, 5000) == 0) {
            fprintf(stderr, "timeout\n");
            break;
        }
        /* Drain what is there now; the fd is level-triggered. */
        do {
            mcrx_datagrams_init(dgs, 32, arena, 2048, NULL);
            if (mcrx_context_recv_batch(ctx, dgs, 32, &got) != MCRX_STATUS_OK) {
                fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
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
