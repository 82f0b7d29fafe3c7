/*
 * Benchmark sender: floods one group with sendmmsg as fast as the kernel
 * takes it. Runs on the sender host (nsenter --net=...).
 * usage: flood SRC IFNAME GROUP PORT SIZE COUNT
 * Prints: sent=<n> send_seconds=<t>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    struct sockaddr_storage src, dst;
    socklen_t slen;
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    static unsigned char payload[BATCH][65536];
    unsigned idx;
    int fam, fd, one = 1, i;
    size_t size;
    long count, sent = 0;
    double t0;

    if (argc < 7) {
        fprintf(stderr, "usage: flood SRC IFNAME GROUP PORT SIZE COUNT\n");
        return 2;
    }
    fam = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
    size = (size_t)atol(argv[5]);
    count = atol(argv[6]);
    idx = if_nametoindex(argv[2]);
    memset(&src, 0, sizeof src);
    memset(&dst, 0, sizeof dst);
    if (fam == AF_INET) {
        struct sockaddr_in *s = (void *)&src, *d = (void *)&dst;
        s->sin_family = d->sin_family = AF_INET;
        inet_pton(AF_INET, argv[1], &s->sin_addr);
        inet_pton(AF_INET, argv[3], &d->sin_addr);
        d->sin_port = htons((uint16_t)atoi(argv[4]));
        slen = sizeof *s;
    } else {
        struct sockaddr_in6 *s = (void *)&src, *d = (void *)&dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        inet_pton(AF_INET6, argv[1], &s->sin6_addr);
        inet_pton(AF_INET6, argv[3], &d->sin6_addr);
        d->sin6_port = htons((uint16_t)atoi(argv[4]));
        slen = sizeof *s;
    }
    fd = socket(fam, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, slen) != 0) {
        perror("flood: socket/bind");
        return 1;
    }
    if (fam == AF_INET) {
        struct ip_mreqn m = {.imr_ifindex = (int)idx};
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof one);
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &one, sizeof one);
    }
    for (i = 0; i < BATCH; i++) {
        memset(payload[i], 'a' + i % 26, size);
        iov[i].iov_base = payload[i];
        iov[i].iov_len = size;
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        mm[i].msg_hdr.msg_name = &dst;
        mm[i].msg_hdr.msg_namelen = slen;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    t0 = now();
    while (sent < count) {
        unsigned n = (unsigned)(count - sent < BATCH ? count - sent : BATCH);
        int r;
        /* each datagram carries its sequence number, so receivers can check order */
        for (i = 0; i < (int)n && size >= 8; i++) {
            uint64_t seq = (uint64_t)(sent + i);
            memcpy(payload[i], &seq, 8);
        }
        r = sendmmsg(fd, mm, n, 0);
        if (r < 0) {
            if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
                continue;
            perror("flood: sendmmsg");
            return 1;
        }
        sent += r;
    }
    printf("sent=%ld send_seconds=%.6f\n", sent, now() - t0);
    return 0;
}
