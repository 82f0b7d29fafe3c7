/* Receive on a libuv loop with mcrx-core-uv, with metadata.
 * usage: uv_loop GROUP PORT [SOURCE|-] [COUNT] */
#include <mcrx/mcrx_uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long want, received;

static void on_closed(mcrx_uv_receiver *r, void *user) {
    (void)r;
    (void)user;
    printf("closed\n");
}

static void on_datagram(mcrx_uv_receiver *r, int status, const mcrx_datagram *dg, void *user) {
    char dst[MCRX_IP_STRLEN] = "?";
    (void)user;
    if (status < 0) {
        fprintf(stderr, "receive failed: %s\n", mcrx_uv_last_error(r));
        mcrx_uv_close(r, on_closed, NULL);
        return;
    }
    if (dg->meta->valid & MCRX_META_DESTINATION)
        mcrx_ip_format(&dg->meta->destination_local_ip, dst, sizeof dst);
    printf("%.*s to %s on ifindex %u\n", (int)dg->len, (const char *)dg->buf, dst,
           dg->meta->ingress_interface_index);
    fflush(stdout);
    if (++received == want)
        mcrx_uv_close(r, on_closed, NULL); /* the loop ends when nothing is left */
}

int main(int argc, char **argv) {
    mcrx_context *ctx = mcrx_context_new();
    mcrx_subscription_config cfg;
    const char *source = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    mcrx_uv_receiver *r;
    uint64_t id;

    want = argc > 4 ? atol(argv[4]) : 10;
    if (argc < 3 || mcrx_subscription_config_parse(&cfg, argv[1], (uint16_t)atoi(argv[2]),
                                                   source, NULL) != 0) {
        fprintf(stderr, "usage: uv_loop GROUP PORT [SOURCE|-] [COUNT]\n");
        return 2;
    }
    if (mcrx_context_add(ctx, &cfg, &id) || mcrx_context_join_subscription(ctx, id)) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        return 1;
    }
    /* The receiver owns the context from here on and frees it on close. */
    if (mcrx_uv_receiver_init_context(uv_default_loop(), &r, ctx) != 0 ||
        mcrx_uv_recv_start(r, MCRX_UV_METADATA, on_datagram, NULL) != 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    uv_loop_close(uv_default_loop());
    return received >= want ? 0 : 1;
}
