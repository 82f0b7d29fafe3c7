/*
 * Raw-capture benchmark receiver: how fast a full capture queue of one
 * group's datagrams is emptied (bench/README.md, "Raw capture").
 *
 * usage: raw_drain MODE GROUP IFACE COUNT SIZE READY_FILE
 *   MODE  pkt-recvfrom  hand-written: recvfrom loop on a packet socket (baseline
 *                       of the one-datagram-per-call modes)
 *         pkt-recvmmsg  hand-written: recvmmsg(64) loop on a packet socket
 *         pkt-ring      hand-written: a TPACKET_V3 ring (PACKET_RX_RING), datagrams
 *                       read in place (views), no system call per batch
 *         pcap          libpcap (pcap_dispatch, its TPACKET_V3 ring), filter
 *                       "ip dst GROUP", a callback per datagram: tcpdump's engine
 *         raw-batch     mcrx_raw_context_recv_batch, 64 slots per call
 *         raw-single    mcrx_raw_context_recv, one datagram per call
 *         shared-batch  mcrx_raw_shared_recv_batch, 64 slots per call
 *         shared-single mcrx_raw_shared_recv, one datagram per call (pending queue)
 *   SIZE  UDP payload bytes the flood sends (sizes the rings)
 *
 * Each mode captures GROUP's IPv4 datagrams on IFACE only, with a kernel
 * filter on the destination, and a receive queue (or ring) large enough to
 * hold all COUNT datagrams. It writes READY_FILE and waits for SIGUSR1 (the
 * sender is done); then it drains the queue and prints one line:
 *   mode=M received=N seconds=S cpu=C
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mcrx/raw.h>

#define RCVBUF (1 << 30)
#define SLOT 2048
#define BATCH 64
#define RING_BLOCK (1u << 18)
/* Blocks the retire timer may hand over part-filled while the flood runs
 * (tp_retire_blk_tov 100 ms, a flood of up to 25 s). */
#define RING_SPARE 256

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "raw_drain: %s: %s\n", what, detail);
    exit(1);
}

/* The hand-written packet socket, opened as the library opens its own:
 * protocol 0, the filter (IPv4, destination GROUP), then bind ETH_P_ALL to
 * the interface. ring_blocks > 0 adds a TPACKET_V3 ring of that many blocks. */
static int pkt_socket(const char *group, unsigned ifindex, unsigned ring_blocks, void **ring) {
    struct in_addr g;
    struct sockaddr_ll sll;
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, 0), v = RCVBUF;
    inet_pton(AF_INET, group, &g);
    struct sock_filter insn[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(g.s_addr), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog fp = {sizeof insn / sizeof insn[0], insn};
    if (fd < 0)
        die("socket(AF_PACKET)", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) != 0)
        die("SO_ATTACH_FILTER", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
        die("SO_RCVBUFFORCE", strerror(errno));
    if (ring_blocks > 0) {
        struct tpacket_req3 req;
        v = TPACKET_V3;
        if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0)
            die("PACKET_VERSION", strerror(errno));
        memset(&req, 0, sizeof req);
        req.tp_block_size = RING_BLOCK;
        req.tp_block_nr = ring_blocks;
        req.tp_frame_size = SLOT;
        req.tp_frame_nr = RING_BLOCK / SLOT * ring_blocks;
        req.tp_retire_blk_tov = 100; /* ms: a part-filled block is handed over */
        if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
            die("PACKET_RX_RING", strerror(errno));
        *ring = mmap(NULL, (size_t)RING_BLOCK * ring_blocks, PROT_READ | PROT_WRITE, MAP_SHARED,
                     fd, 0);
        if (*ring == MAP_FAILED)
            die("mmap", strerror(errno));
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0)
        die("bind", strerror(errno));
    return fd;
}

static long pcap_count;
static unsigned pcap_sum;
static void on_pcap(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
    (void)user;
    pcap_sum += bytes[14 + 12] + h->len; /* reads the source, as the others do */
    pcap_count++;
}

int main(int argc, char **argv) {
    static unsigned char arena[BATCH * SLOT];
    const char *mode, *group, *iface, *ready;
    long count, size, received = 0;
    unsigned ifindex, ring_blocks = 0, sum = 0;
    double t0, t1, c0, c1;
    mcrx_raw_context *ctx = NULL;
    mcrx_raw_shared *sh = NULL;
    pcap_t *pc = NULL;
    void *ring = NULL;
    sigset_t set;
    FILE *f;
    int fd = -1, sig, i;

    if (argc != 7) {
        fprintf(stderr, "usage: %s MODE GROUP IFACE COUNT SIZE READY_FILE\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    group = argv[2];
    iface = argv[3];
    count = atol(argv[4]);
    size = atol(argv[5]);
    ready = argv[6];
    ifindex = if_nametoindex(iface);
    if (ifindex == 0)
        die(iface, "no such interface");
    /* A frame in a V3 ring: its header, the link address, the IP datagram,
     * aligned; twice that covers the alignment, plus blocks in hand. */
    ring_blocks = (unsigned)((count * 2 * (size + 28 + 96)) / RING_BLOCK + RING_SPARE);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);

    if (!strncmp(mode, "pkt-", 4)) {
        fd = pkt_socket(group, ifindex, !strcmp(mode, "pkt-ring") ? ring_blocks : 0, &ring);
    } else if (!strcmp(mode, "pcap")) {
        char errbuf[PCAP_ERRBUF_SIZE], expr[64];
        struct bpf_program prog;
        pc = pcap_create(iface, errbuf);
        if (pc == NULL)
            die("pcap_create", errbuf);
        pcap_set_snaplen(pc, 65535);
        pcap_set_buffer_size(pc, (int)((size_t)RING_BLOCK * ring_blocks > (size_t)INT32_MAX
                                           ? INT32_MAX
                                           : RING_BLOCK * ring_blocks));
        pcap_set_timeout(pc, 100);
        if (pcap_activate(pc) < 0)
            die("pcap_activate", pcap_geterr(pc));
        snprintf(expr, sizeof expr, "ip dst %s", group);
        if (pcap_compile(pc, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(pc, &prog) != 0)
            die("pcap filter", pcap_geterr(pc));
        pcap_freecode(&prog);
        if (pcap_setnonblock(pc, 1, errbuf) != 0)
            die("pcap_setnonblock", errbuf);
    } else {
        mcrx_raw_config cfg;
        uint64_t id;
        mcrx_raw_config_init(&cfg);
        /* The interface by its address: the receiver's address on IFACE. */
        if (mcrx_raw_config_parse(&cfg, group, NULL, getenv("RAW_IFADDR")) != MCRX_ERROR_NONE)
            die("config", mcrx_last_error());
        cfg.rcvbuf_bytes = RCVBUF;
        if (!strncmp(mode, "raw-", 4)) {
            ctx = mcrx_raw_context_new();
            if (mcrx_raw_context_add(ctx, &cfg, &id) || mcrx_raw_context_join_subscription(ctx, id))
                die("raw add/join", mcrx_raw_context_last_error(ctx));
        } else if (!strncmp(mode, "shared-", 7)) {
            sh = mcrx_raw_shared_new(NULL);
            if (sh == NULL || mcrx_raw_shared_add(sh, &cfg, &id) ||
                mcrx_raw_shared_join_subscription(sh, id))
                die("shared add/join", sh ? mcrx_raw_shared_last_error(sh) : mcrx_last_error());
        } else {
            die("mode", mode);
        }
    }

    f = fopen(ready, "w");
    if (f == NULL)
        die("ready file", strerror(errno));
    fclose(f);
    sigwait(&set, &sig);

    c0 = cpu();
    t0 = now();
    if (!strcmp(mode, "pkt-recvfrom")) {
        for (;;) {
            struct sockaddr_ll from;
            socklen_t flen = sizeof from;
            ssize_t r = recvfrom(fd, arena, SLOT, 0, (struct sockaddr *)&from, &flen);
            if (r < 0)
                break; /* non-blocking: the queue is empty */
            sum += arena[12] + (unsigned)from.sll_ifindex;
            received++;
        }
    } else if (!strcmp(mode, "pkt-recvmmsg")) {
        struct mmsghdr mm[BATCH];
        struct iovec iov[BATCH];
        struct sockaddr_ll from[BATCH];
        for (;;) {
            int r;
            for (i = 0; i < BATCH; i++) {
                iov[i].iov_base = arena + i * SLOT;
                iov[i].iov_len = SLOT;
                memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
                mm[i].msg_hdr.msg_iov = &iov[i];
                mm[i].msg_hdr.msg_iovlen = 1;
                mm[i].msg_hdr.msg_name = &from[i];
                mm[i].msg_hdr.msg_namelen = sizeof from[i];
            }
            r = recvmmsg(fd, mm, BATCH, 0, NULL);
            if (r <= 0)
                break;
            for (i = 0; i < r; i++)
                sum += arena[i * SLOT + 12] + (unsigned)from[i].sll_ifindex;
            received += r;
        }
    } else if (!strcmp(mode, "pkt-ring")) {
        unsigned b = 0;
        for (;;) {
            struct tpacket_block_desc *bd =
                (struct tpacket_block_desc *)((char *)ring + (size_t)b * RING_BLOCK);
            struct tpacket3_hdr *h;
            uint32_t k;
            if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
                break; /* the queue is empty (the sender was done well before) */
            h = (struct tpacket3_hdr *)((char *)bd + bd->hdr.bh1.offset_to_first_pkt);
            for (k = 0; k < bd->hdr.bh1.num_pkts; k++) {
                const struct sockaddr_ll *ll =
                    (const struct sockaddr_ll *)((char *)h + TPACKET_ALIGN(sizeof *h));
                sum += ((unsigned char *)h)[h->tp_net + 12] + (unsigned)ll->sll_ifindex;
                received++;
                h = (struct tpacket3_hdr *)((char *)h + h->tp_next_offset);
            }
            __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
            b = (b + 1) % ring_blocks;
        }
    } else if (pc != NULL) {
        while (pcap_dispatch(pc, -1, on_pcap, NULL) > 0)
            ;
        received = pcap_count;
        sum = pcap_sum;
    } else {
        mcrx_raw_packet pk[BATCH];
        int single = strstr(mode, "-single") != NULL;
        for (;;) {
            size_t got = 0, n = single ? 1 : BATCH, k;
            int rc;
            for (k = 0; k < n; k++)
                mcrx_raw_packet_init(&pk[k], arena + k * SLOT, SLOT);
            if (ctx != NULL)
                rc = single ? mcrx_raw_context_recv(ctx, pk, &got)
                            : mcrx_raw_context_recv_batch(ctx, pk, n, &got);
            else
                rc = single ? mcrx_raw_shared_recv(sh, pk, &got)
                            : mcrx_raw_shared_recv_batch(sh, pk, n, &got);
            if (rc != 0)
                die("recv", ctx ? mcrx_raw_context_last_error(ctx) : mcrx_raw_shared_last_error(sh));
            if (got == 0)
                break; /* non-blocking: the queue is empty */
            for (k = 0; k < got; k++)
                sum += ((unsigned char *)pk[k].buf)[12] + pk[k].ingress_interface_index;
            received += (long)got;
        }
    }
    t1 = now();
    c1 = cpu();
    {
        unsigned long long drops = 0;
        if (fd >= 0) {
            struct tpacket_stats_v3 st;
            socklen_t len = sizeof st;
            if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
                drops = st.tp_drops;
        } else if (pc != NULL) {
            struct pcap_stat ps;
            if (pcap_stats(pc, &ps) == 0)
                drops = ps.ps_drop;
        } else if (ctx != NULL) {
            mcrx_raw_metrics m;
            if (mcrx_raw_context_metrics_get(ctx, &m) == 0)
                drops = m.kernel_drops;
        } else {
            mcrx_raw_shared_metrics m;
            if (mcrx_raw_shared_metrics_get(sh, &m) == 0)
                drops = m.kernel_drops;
        }
        printf("mode=%s received=%ld seconds=%.6f cpu=%.6f drops=%llu check=%u\n", mode, received,
               t1 - t0, c1 - c0, drops, sum & 1);
    }
    mcrx_raw_context_free(ctx);
    mcrx_raw_shared_free(sh);
    if (pc != NULL)
        pcap_close(pc);
    if (ring != NULL)
        munmap(ring, (size_t)RING_BLOCK * ring_blocks);
    if (fd >= 0)
        close(fd);
    return 0;
}
