/* Receive on a background thread with the Rust crate's C ABI: the callback
 * runs on the receiver thread for each datagram.
 * usage: thread_callback GROUP PORT [SOURCE|-] [COUNT] */
#include <mcrx_core_ffi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long received;

static void on_packet(const McrxPacketView *p, void *user) {
    (void)user;
    printf("%.*s from %s\n", (int)p->payload_len, (const char *)p->payload, p->source_ip);
    fflush(stdout);
    pthread_mutex_lock(&mu);
    received++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv) {
    McrxContext *ctx = mcrx_context_new();
    const char *source = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    uint64_t id;
    long want = argc > 4 ? atol(argv[4]) : 10;
    struct timespec deadline;

    if (argc < 3) {
        fprintf(stderr, "usage: thread_callback GROUP PORT [SOURCE|-] [COUNT]\n");
        return 2;
    }
    if (mcrx_context_add_subscription(ctx, argv[1], (uint16_t)atoi(argv[2]), source, NULL, &id) !=
            MCRX_STATUS_OK ||
        mcrx_context_join_subscription(ctx, id) != MCRX_STATUS_OK ||
        mcrx_context_start(ctx, on_packet, NULL, 0) != MCRX_STATUS_OK) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&mu);
    while (received < want && pthread_cond_timedwait(&cv, &mu, &deadline) == 0)
        ;
    pthread_mutex_unlock(&mu);
    mcrx_context_stop(ctx); /* returns at once even with no traffic */
    mcrx_context_free(ctx);
    return received >= want ? 0 : 1;
}
