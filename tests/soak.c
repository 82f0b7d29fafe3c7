/*
 * Isolation soak: millions of sequence-numbered datagrams, IPv4 and IPv6,
 * ASM and SSM groups sharing one port, several sources on two links, unicast
 * and other-port cross traffic, several receiver processes, with and without
 * other programs' sockets (SO_REUSEADDR, SO_REUSEPORT) on the port. Prints,
 * per subscription, what was foreign, duplicated, lost and reordered, and a
 * closing line; exits 1 if any subscription got a datagram not its own or
 * lost one of its own.
 *
 *   mcrx_soak [--datagrams N] [--processes P] [--burst B]
 *
 * Four runs: each family sparse (one process) and crowded (P + 1 processes
 * and other programs' sockets).
 * N is the total over all runs (default 4 000 000); run it through
 * scripts/netns-run.sh (make soak does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "isolation.h"

typedef struct fam {
    const char *name, *s1, *s1b, *s2, *r1, *r2, *asm_g, *asm_g2, *ssm_g, *ssm_g2;
} fam;

static const fam FAMS[] = {
    {"ipv4", S_V4, S_V4_OTHER, S_V4_L2, R_V4, R_V4_L2, "239.20.0.1", "239.20.0.2", "232.20.0.1",
     "232.20.0.2"},
    {"ipv6", S_V6, S_V6_OTHER, S_V6_L2, R_V6, R_V6_L2, "ff0e::20:1", "ff0e::20:2", "ff3e::20:1",
     "ff3e::20:2"},
};

/* 16 streams into 11 subscriptions, every kind of neighbour on one port. */
static iso_case soak_case(const fam *f, int processes, int foreign, char *name, size_t len) {
    iso_case c;
    iso_stream st[] = {
        {f->s1, 1, f->asm_g, 0},  {f->s1b, 1, f->asm_g, 0}, {f->s2, 2, f->asm_g, 0},
        {f->s1, 1, f->asm_g2, 0}, {f->s2, 2, f->asm_g2, 0}, {f->s1, 1, f->ssm_g, 0},
        {f->s1b, 1, f->ssm_g, 0}, {f->s2, 2, f->ssm_g, 0},  {f->s1, 1, f->ssm_g2, 0},
        {f->s2, 2, f->ssm_g2, 0}, {f->s1, 1, f->r1, 0},     {f->s2, 2, f->r2, 0},
        {f->s1, 1, f->asm_g, 1},  {f->s1, 1, f->ssm_g, 1},  {f->s1b, 1, f->asm_g2, 0},
        {f->s2, 2, f->r1, 0},
    };
    iso_sub sb[] = {
        {f->asm_g, NULL, f->r1, 1},    {f->asm_g, NULL, f->r2, 2},   {f->asm_g, NULL, NULL, 1},
        {f->asm_g2, NULL, f->r2, 2},   {f->ssm_g, f->s1, f->r1, 1},  {f->ssm_g, f->s1, NULL, 1},
        {f->ssm_g, f->s1b, NULL, 1},   {f->ssm_g, f->s2, f->r2, 2},  {f->ssm_g, f->s2, NULL, 1},
        {f->ssm_g2, f->s2, f->r2, 2},  {f->ssm_g2, f->s1, f->r1, 1},
    };
    memset(&c, 0, sizeof c);
    snprintf(name, len, "%s-%dproc-%s", f->name, processes, foreign ? "crowded" : "sparse");
    c.name = name;
    memcpy(c.streams, st, sizeof st);
    c.nstreams = (int)(sizeof st / sizeof st[0]);
    memcpy(c.subs, sb, sizeof sb);
    c.nsubs = (int)(sizeof sb / sizeof sb[0]);
    c.processes = processes;
    c.rx_options = -1;
    c.foreign = foreign;
    return c;
}

int main(int argc, char **argv) {
    unsigned long long total = 4000000, sent = 0, fails = 0;
    unsigned long long foreign = 0, dups = 0, lost = 0, reord = 0, mis = 0, delivered = 0;
    int processes = 2, burst = 16, i, v, run = 0;
    double secs = 0;
    static iso_report r;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--datagrams") == 0)
            total = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--processes") == 0)
            processes = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--burst") == 0)
            burst = atoi(argv[i + 1]);
        else
            break;
    }
    if (i < argc || processes < 1 || processes > 8 || burst < 1 || total < 64) {
        fprintf(stderr, "usage: mcrx_soak [--datagrams N] [--processes 1..8] [--burst B]\n");
        return 2;
    }
    th_init();
    /* Four runs: each family, sparse (early-demux path) then crowded. */
    for (v = 0; v < 2; v++) {
        int crowded;
        for (crowded = 0; crowded < 2; crowded++, run++) {
            char name[64];
            int others = crowded ? ISO_FOREIGN_REUSEADDR | ISO_FOREIGN_REUSEPORT |
                                        ISO_FOREIGN_REUSEPORT_GROUP
                                  : 0;
            /* Sparse: one process, ten subscriptions, nothing else on the
             * port, so Linux's early demux takes each datagram (it looks
             * only at ports with 10 sockets or fewer). Crowded: more
             * processes and other programs' sockets. */
            iso_case c = soak_case(&FAMS[v], crowded ? processes + 1 : 1, others, name,
                                   sizeof name);
            uint32_t per = (uint32_t)(total / 4 / (unsigned long long)c.nstreams);
            int p, s;
            if (!crowded)
                c.nsubs = 10;
            if (iso_run(&c, (uint16_t)(31000 + run * 2), per, (uint32_t)burst, &r) != 0) {
                fprintf(stderr, "soak: run %s failed to run\n", name);
                return 1;
            }
            iso_print(stdout, &c, &r);
            sent += r.sent;
            secs += r.seconds;
            fails += iso_failures(&r);
            for (p = 0; p < r.processes; p++)
                for (s = 0; s < r.nsubs; s++) {
                    const iso_sub_report *x = &r.subs[p][s];
                    foreign += x->foreign;
                    dups += x->duplicates;
                    lost += x->lost;
                    reord += x->reordered;
                    mis += x->mislabelled;
                    delivered += x->received;
                }
        }
    }
    printf("soak: %llu datagrams sent in %.1f s, %llu deliveries checked; foreign %llu, "
           "duplicates %llu, lost %llu, mislabelled %llu, reordered %llu\n",
           sent, secs, delivered, foreign, dups, lost, mis, reord);
    printf("soak: %s\n", fails == 0 ? "PASS" : "FAIL");
    return fails == 0 ? 0 : 1;
}
