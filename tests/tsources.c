/* Test helper: one subscription whose source filter changes on command, so
 * a capture can watch each change's IGMPv3/MLDv2 report.
 * usage: tsources GROUP PORT INTERFACE|-
 * stdin, one command a line:  include S... | exclude S... | asm | leave | join
 * The first filter command adds and joins; later ones call set_sources.
 * Each command answers "ok" or "error: <message>" on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcrx/mcrx.h>

#define MAX_SOURCES 64

int main(int argc, char **argv) {
    mcrx_context *ctx;
    mcrx_subscription_config cfg;
    uint64_t id = 0;
    int added = 0;
    char line[4096];
    if (argc < 4) {
        fprintf(stderr, "usage: tsources GROUP PORT INTERFACE|-\n");
        return 2;
    }
    ctx = mcrx_context_new();
    if (ctx == NULL || mcrx_subscription_config_parse(&cfg, argv[1], (uint16_t)atoi(argv[2]), NULL,
                                                      strcmp(argv[3], "-") ? argv[3] : NULL)) {
        fprintf(stderr, "%s\n", mcrx_last_error());
        return 1;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        mcrx_ip list[MAX_SOURCES];
        size_t n = 0;
        uint32_t mode;
        int rc;
        char *word = strtok(line, " \t\r\n");
        if (word == NULL)
            continue;
        if (!strcmp(word, "leave")) {
            rc = mcrx_context_leave_subscription(ctx, id);
        } else if (!strcmp(word, "join")) {
            rc = mcrx_context_join_subscription(ctx, id);
        } else {
            mode = !strcmp(word, "include")   ? MCRX_SOURCES_INCLUDE
                   : !strcmp(word, "exclude") ? MCRX_SOURCES_EXCLUDE
                                              : MCRX_SOURCES_NONE;
            while ((word = strtok(NULL, " \t\r\n")) != NULL && n < MAX_SOURCES)
                if (mcrx_ip_parse(word, &list[n++]) != MCRX_ERROR_NONE) {
                    fprintf(stderr, "%s\n", mcrx_last_error());
                    return 1;
                }
            if (added) {
                rc = mcrx_context_set_sources(ctx, id, mode, list, n);
            } else {
                cfg.sources_mode = mode;
                cfg.sources = list;
                cfg.nsources = (uint32_t)n;
                rc = mcrx_context_add(ctx, &cfg, &id) || mcrx_context_join_subscription(ctx, id);
                added = 1;
            }
        }
        if (rc != 0)
            printf("error: %s\n", mcrx_context_last_error(ctx));
        else
            printf("ok\n");
        fflush(stdout);
    }
    mcrx_context_free(ctx);
    return 0;
}
