/*
 * seed_program.c for Windows: the same program, written only against the
 * Rust crate's C header, with Windows' Sleep for its own waiting instead of
 * nanosleep. It never calls WSAStartup (the library does), and it includes
 * all of <windows.h>, COM's "interface" macro with it, before the header.
 * usage: seed_program GROUP PORT [SOURCE|-] [INTERFACE]
 */
#include <windows.h>

#include <mcrx_core_ffi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_packet(const McrxPacketView *p, void *user) {
    int *count = (int *)user;
    printf("packet sub=%llu src=%s:%u group=%s dst_port=%u len=%zu payload=%.*s "
           "local=%s:%u dest=%s ingress=%s\n",
           (unsigned long long)p->subscription_id, p->source_ip, p->source_port, p->group_ip,
           p->dst_port, p->payload_len, (int)p->payload_len, (const char *)p->payload,
           p->socket_local_ip ? p->socket_local_ip : "none", p->socket_local_port,
           p->destination_local_ip ? p->destination_local_ip : "none",
           p->has_ingress_interface_index ? "yes" : "no");
    fflush(stdout);
    (*count)++;
}

int main(int argc, char **argv) {
    McrxContext *ctx;
    uint64_t id = 0;
    int count = 0, i;
    const char *source = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    const char *iface = argc > 4 ? argv[4] : NULL;
    if (argc < 3) {
        fprintf(stderr, "usage: seed_program GROUP PORT [SOURCE|-] [INTERFACE]\n");
        return 2;
    }
    printf("version %s\n", mcrx_ffi_version());
    ctx = mcrx_context_new();
    if (ctx == NULL) {
        fprintf(stderr, "%s\n", mcrx_last_error());
        return 1;
    }
    if (mcrx_context_add_subscription(ctx, argv[1], (uint16_t)atoi(argv[2]), source, iface, &id) !=
            MCRX_STATUS_OK ||
        mcrx_context_join_subscription(ctx, id) != MCRX_STATUS_OK) {
        fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
        mcrx_context_free(ctx);
        return 1;
    }
    printf("ready sub=%llu count=%zu\n", (unsigned long long)id,
           mcrx_context_subscription_count(ctx));
    fflush(stdout);
    for (i = 0; i < 500 && count == 0; i++) { /* 5 s deadline */
        size_t got = 0;
        if (mcrx_context_poll(ctx, 16, on_packet, &count, &got) != MCRX_STATUS_OK) {
            fprintf(stderr, "%s\n", mcrx_context_last_error(ctx));
            break;
        }
        if (got == 0)
            Sleep(10);
    }
    mcrx_context_remove_subscription(ctx, id);
    mcrx_context_free(ctx);
    return count > 0 ? 0 : 1;
}
