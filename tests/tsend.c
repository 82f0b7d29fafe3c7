/* Test helper: sends datagrams from the sender host of scripts/netns-run.sh.
 * usage: tsend SRC IFNAME DST PORT MESSAGE [COUNT] */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

int main(int argc, char **argv) {
    int fd, i, count;
    if (argc < 6) {
        fprintf(stderr, "usage: tsend SRC IFNAME DST PORT MESSAGE [COUNT]\n");
        return 1;
    }
    th_init();
    count = argc > 6 ? atoi(argv[6]) : 1;
    fd = th_sender(argv[1], argv[2]);
    for (i = 0; i < count; i++)
        th_send_str(fd, argv[3], (uint16_t)atoi(argv[4]), argv[5]);
    close(fd);
    return 0;
}
