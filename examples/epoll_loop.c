/* Receive inside an existing epoll(7) loop that also runs a timer: each
 * subscription's socket is registered on its own, tagged with its id.
 * usage: epoll_loop GROUP PORT [SOURCE|-] [COUNT] */
#include <mcrx/mcrx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

int main(int argc, char **argv) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    const char *source = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    unsigned char buf[MCRX_MAX_DATAGRAM];
    mcrx_datagram dg;
    uint64_t id;
    long want = argc > 4 ? atol(argv[4]) : 10, received = 0, ticks = 0;
    int ep = epoll_create1(0), timer = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec every_second = {{1, 0}, {1, 0}};
    struct epoll_event ev = {.events = EPOLLIN};
    size_t i;

    if (argc < 3 || mcrx_subscription_config_parse(&cfg, argv[1], (uint16_t)atoi(argv[2]),
                                                   source, NULL) != 0) {
        fprintf(stderr, "usage: epoll_loop GROUP PORT [SOURCE|-] [COUNT]\n");
        return 2;
    }
    if (mcrx_context_add(ctx, &cfg, &id) || mcrx_context_join_subscription(ctx, id)) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        return 1;
    }
    /* Register every subscription's socket; the tag is its id. */
    for (i = 0; i < mcrx_context_subscription_count(ctx); i++) {
        mcrx_subscription *sub = mcrx_context_subscription_at(ctx, i);
        ev.data.u64 = mcrx_subscription_id(sub);
        epoll_ctl(ep, EPOLL_CTL_ADD, (int)mcrx_subscription_sock(sub), &ev);
    }
    timerfd_settime(timer, 0, &every_second, NULL);
    ev.data.u64 = 0; /* ids start at 1, so 0 marks the timer */
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);
    printf("ready\n");
    fflush(stdout);

    mcrx_datagram_init(&dg, buf, sizeof buf);
    while (received < want && ticks < 5) {
        struct epoll_event events[8];
        int n = epoll_wait(ep, events, 8, -1), k;
        for (k = 0; k < n; k++) {
            mcrx_subscription *sub;
            size_t got = 1;
            if (events[k].data.u64 == 0) {
                uint64_t expirations;
                if (read(timer, &expirations, sizeof expirations) > 0)
                    ticks++;
                continue;
            }
            sub = mcrx_context_get_subscription(ctx, events[k].data.u64);
            while (sub != NULL && got == 1) {
                if (mcrx_subscription_recv(sub, &dg, &got) != MCRX_STATUS_OK) {
                    fprintf(stderr, "%s\n", mcrx_subscription_last_error(sub));
                    return 1;
                }
                if (got == 1) {
                    printf("%.*s\n", (int)dg.len, (const char *)dg.buf);
                    received++;
                }
            }
        }
        fflush(stdout);
    }
    close(timer);
    close(ep);
    mcrx_context_free(ctx);
    return received >= want ? 0 : 1;
}
