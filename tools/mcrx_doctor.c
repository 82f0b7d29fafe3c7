/*
 * mcrx_doctor: why does this host not receive a group? Each finding comes
 * with its evidence and the command that fixes it.
 *
 *   mcrx_doctor <group> [source] [interface] [--port P] [--wait S] [--json]
 *
 * Checks: an up, multicast-capable interface; the interface a join would
 * pick against the one the source is routed on; the kernel's membership
 * (/proc/net/igmp, igmp6, mcfilter, mcfilter6) after a join of our own;
 * force_igmp_version / force_mld_version and IGMPv1/v2 queriers with SSM;
 * rp_filter with the route back to the source; nftables rules (iptables on
 * Debian is nftables underneath) that drop the traffic; membership limits;
 * UDP RcvbufErrors; and, with --port, whether traffic is delivered.
 * Exit 0: nothing wrong and traffic seen; 1: a problem, no traffic, or not
 * checked (no --port); 2: bad arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mcrx/mcrx.h>

#include "tool_common.h"

static const char *name = "mcrx_doctor";

#define MAXF 32
typedef struct finding {
    const char *id;
    int problem; /* 1: problem, 0: note */
    char summary[256];
    char evidence[1536];
    char fix[512];
} finding;

static finding findings[MAXF];
static int nfind;

static finding *add(const char *id, int problem, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static finding *add(const char *id, int problem, const char *fmt, ...) {
    finding *f;
    va_list ap;
    if (nfind == MAXF)
        nfind--;
    f = &findings[nfind++];
    memset(f, 0, sizeof *f);
    f->id = id;
    f->problem = problem;
    va_start(ap, fmt);
    vsnprintf(f->summary, sizeof f->summary, fmt, ap);
    va_end(ap);
    return f;
}

static void appendf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...) {
    size_t n = strlen(buf);
    va_list ap;
    if (n + 1 >= cap)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s <group> [source] [interface] [--port <p>] [--wait <s>] [--json]\n"
            "\n"
            "Explains why this host does not receive <group> (from <source>, on\n"
            "<interface>): each finding with its evidence and the command that fixes it.\n"
            "It checks the interfaces and routes (which interface a join picks, which\n"
            "one the source is routed on), the kernel's membership after a join of its\n"
            "own, IGMP/MLD versions forced below what SSM needs, rp_filter, nftables\n"
            "rules that drop the traffic, membership limits and UDP RcvbufErrors.\n"
            "\n"
            "  source              SSM source address (232/8, ff3x::/32 groups need one)\n"
            "  interface           local interface address (IPv6: also fe80::1%%eth0 or\n"
            "                      an index), as mcrx_recv takes it\n"
            "  --port <p>          also join <group>:<p> and wait for traffic\n"
            "  --wait <s>          how long to wait for traffic (default 3)\n"
            "  --json              one JSON object on stdout\n"
            "  --help              this text\n"
            "\n"
            "Whether datagrams reach the interface but are not delivered needs raw\n"
            "capture, which mcrx-core does not have yet: that check is not made.\n"
            "Reading nftables rules needs root (CAP_NET_ADMIN).\n"
            "\n"
            "Exit status: 0 nothing wrong and traffic seen; 1 a problem found, no\n"
            "traffic, or traffic not checked (no --port); 2 bad arguments.\n",
            name);
}

static int fail_usage(const char *fmt, const char *arg) {
    usage(stderr);
    fprintf(stderr, "%s: ", name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 2;
}

/* Runs a command (its words already checked: addresses we formatted,
 * interface names the kernel listed) and returns its output. */
static int run(char *out, size_t cap, const char *fmt, ...) {
    char cmd[512];
    va_list ap;
    FILE *p;
    size_t n = 0;
    int st;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    out[0] = '\0';
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    while (n + 1 < cap) {
        size_t k = fread(out + n, 1, cap - 1 - n, p);
        if (k == 0)
            break;
        n += k;
    }
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    st = pclose(p);
    return st == 0 ? 0 : 1;
}

static long read_long(const char *path, long dflt) {
    FILE *f = fopen(path, "r");
    long v = dflt;
    if (f == NULL)
        return dflt;
    if (fscanf(f, "%ld", &v) != 1)
        v = dflt;
    fclose(f);
    return v;
}

/* "dev NAME" in `ip route get` output. */
static int route_dev(const char *addr, int v6, char *dev, size_t cap, char *line, size_t lcap) {
    const char *p;
    size_t n = 0;
    dev[0] = '\0';
    if (run(line, lcap, "ip %s-o route get %s 2>&1", v6 ? "-6 " : "", addr) != 0)
        return -1;
    p = strstr(line, " dev ");
    if (p == NULL)
        return -1;
    p += 5;
    while (p[n] && p[n] != ' ' && n + 1 < cap) {
        dev[n] = p[n];
        n++;
    }
    dev[n] = '\0';
    {
        char *bs = strchr(line, '\\'); /* -o folds lines with a backslash */
        if (bs)
            *bs = '\0';
        n = strlen(line);
        while (n > 0 && line[n - 1] == ' ')
            line[--n] = '\0';
    }
    return 0;
}

/* Interface name holding a local address, or "" */
static void iface_of_addr(const mcrx_ip *ip, char *out, size_t cap) {
    struct ifaddrs *list, *it;
    out[0] = '\0';
    if (getifaddrs(&list) != 0)
        return;
    for (it = list; it != NULL; it = it->ifa_next) {
        mcrx_ip a;
        uint16_t port;
        if (it->ifa_addr == NULL)
            continue;
        if ((it->ifa_addr->sa_family != AF_INET && it->ifa_addr->sa_family != AF_INET6) ||
            mcrx_ip_from_sockaddr(it->ifa_addr, &a, &port) != MCRX_ERROR_NONE)
            continue;
        a.scope_id = 0;
        {
            mcrx_ip b = *ip;
            b.scope_id = 0;
            if (mcrx_ip_equal(&a, &b)) {
                snprintf(out, cap, "%s", it->ifa_name);
                break;
            }
        }
    }
    freeifaddrs(list);
}

/* Membership of group (and source) on ifname in /proc/net/igmp{,6}, mcfilter{,6}. */
static int proc_has_group(const mcrx_ip *g, const char *ifname, char *querier, size_t qcap) {
    char line[512], dev[64] = "";
    FILE *f = fopen(g->family == MCRX_IP_V6 ? "/proc/net/igmp6" : "/proc/net/igmp", "r");
    int found = 0;
    if (querier)
        querier[0] = '\0';
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (g->family == MCRX_IP_V6) {
            char d[64], hex[64];
            unsigned char b[16];
            int i;
            if (sscanf(line, "%*d %63s %63s", d, hex) != 2 || strlen(hex) != 32)
                continue;
            for (i = 0; i < 16; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                b[i] = (unsigned char)v;
            }
            if (!strcmp(d, ifname) && !memcmp(b, g->bytes, 16))
                found = 1;
        } else if (line[0] != '\t') {
            char d[64], q[8] = "";
            if (sscanf(line, "%*d %63s : %*d %7s", d, q) >= 1) {
                snprintf(dev, sizeof dev, "%s", d);
                if (querier && !strcmp(d, ifname))
                    snprintf(querier, qcap, "%s", q);
            }
        } else {
            unsigned long v;
            uint32_t v32;
            if (sscanf(line, " %lx", &v) != 1)
                continue;
            v32 = (uint32_t)v;
            if (!strcmp(dev, ifname) && !memcmp(&v32, g->bytes, 4))
                found = 1;
        }
    }
    fclose(f);
    return found;
}

static int proc_has_source(const mcrx_ip *g, const mcrx_ip *s, const char *ifname) {
    char line[512];
    FILE *f = fopen(g->family == MCRX_IP_V6 ? "/proc/net/mcfilter6" : "/proc/net/mcfilter", "r");
    int found = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f)) {
        char d[64], a[64], b[64];
        unsigned long inc = 0;
        if (sscanf(line, "%*d %63s %63s %63s %lu", d, a, b, &inc) != 4 || strcmp(d, ifname))
            continue;
        if (g->family == MCRX_IP_V4) {
            unsigned long ga = strtoul(a, NULL, 16), sa = strtoul(b, NULL, 16);
            uint32_t gn = htonl((uint32_t)ga), sn = htonl((uint32_t)sa);
            if (!memcmp(&gn, g->bytes, 4) && !memcmp(&sn, s->bytes, 4) && inc > 0)
                found = 1;
        } else if (strlen(a) == 32 && strlen(b) == 32) {
            unsigned char gb[16], sb[16];
            int i;
            for (i = 0; i < 16; i++) {
                unsigned v, w;
                sscanf(a + 2 * i, "%2x", &v);
                sscanf(b + 2 * i, "%2x", &w);
                gb[i] = (unsigned char)v;
                sb[i] = (unsigned char)w;
            }
            if (!memcmp(gb, g->bytes, 16) && !memcmp(sb, s->bytes, 16) && inc > 0)
                found = 1;
        }
    }
    fclose(f);
    return found;
}

/* UDP (or UDP6) RcvbufErrors from /proc/net/snmp{,6}; -1 if unknown. */
static long long rcvbuf_errors(int v6) {
    char line[2048], names[2048] = "";
    FILE *f = fopen(v6 ? "/proc/net/snmp6" : "/proc/net/snmp", "r");
    long long v = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (v6) {
            if (sscanf(line, "Udp6RcvbufErrors %lld", &v) == 1)
                break;
        } else if (!strncmp(line, "Udp: ", 5)) {
            if (names[0] == '\0') {
                snprintf(names, sizeof names, "%s", line);
            } else {
                char *n = names + 5, *x = line + 5, *sn, *sx;
                char *tn = strtok_r(n, " \n", &sn), *tx = strtok_r(x, " \n", &sx);
                while (tn && tx) {
                    if (!strcmp(tn, "RcvbufErrors"))
                        v = atoll(tx);
                    tn = strtok_r(NULL, " \n", &sn);
                    tx = strtok_r(NULL, " \n", &sx);
                }
                break;
            }
        }
    }
    fclose(f);
    return v;
}

/* nftables rules in input/prerouting chains that drop what we want. */
static void check_firewall(const char *gtext, const char *stext, unsigned long port, int v6) {
    static char out[65536];
    char table[128] = "", fam[16] = "", chain[128] = "";
    int hooked = 0, policy_drop = 0, accepts = 0, rc;
    char *line, *save;
    char pol_chain[300] = "";
    if (access("/usr/sbin/nft", X_OK) != 0 && access("/sbin/nft", X_OK) != 0 &&
        access("/usr/bin/nft", X_OK) != 0) {
        add("firewall-unchecked", 0, "firewall not checked: nft is not installed")->fix[0] = '\0';
        return;
    }
    rc = run(out, sizeof out, "nft -a list ruleset 2>&1");
    if (rc != 0) {
        finding *f = add("firewall-unchecked", 0, "firewall not checked: nft list ruleset failed");
        appendf(f->evidence, sizeof f->evidence, "%.400s", out);
        appendf(f->fix, sizeof f->fix, "run mcrx_doctor as root (CAP_NET_ADMIN)");
        return;
    }
    for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t = line;
        char portstr[32];
        int mentions, broad, is_drop;
        while (*t == ' ' || *t == '\t')
            t++;
        if (!strncmp(t, "table ", 6)) {
            sscanf(t, "table %15s %127s", fam, table);
            continue;
        }
        if (!strncmp(t, "chain ", 6)) {
            if (hooked && policy_drop && accepts == 0 && pol_chain[0] == '\0')
                snprintf(pol_chain, sizeof pol_chain, "%s %s %s", fam, table, chain);
            sscanf(t, "chain %127s", chain);
            hooked = policy_drop = accepts = 0;
            continue;
        }
        if (!strncmp(t, "type filter hook ", 17)) {
            int famok = !strcmp(fam, "inet") || !strcmp(fam, "netdev") ||
                        !strcmp(fam, v6 ? "ip6" : "ip");
            hooked = famok && (strstr(t, "hook input") || strstr(t, "hook prerouting") ||
                               strstr(t, "hook ingress"));
            policy_drop = strstr(t, "policy drop") != NULL;
            continue;
        }
        if (!hooked || strstr(t, "# handle") == NULL)
            continue;
        snprintf(portstr, sizeof portstr, "dport %lu", port);
        mentions = strstr(t, gtext) != NULL || (stext && strstr(t, stext) != NULL) ||
                   (port && strstr(t, portstr) != NULL);
        broad = !strstr(t, "saddr") && !strstr(t, "daddr") && !strstr(t, "dport") &&
                !strstr(t, "sport") && !strstr(t, "iif") && !strstr(t, "ct state") &&
                !strstr(t, "tcp") && !strstr(t, "icmp") && !strstr(t, "meta mark");
        is_drop = strstr(t, " drop") != NULL || strstr(t, " reject") != NULL || !strncmp(t, "drop", 4);
        if (!is_drop && strstr(t, "accept") && (mentions || broad))
            accepts++;
        if (is_drop && (mentions || broad)) {
            char handle[32] = "";
            const char *h = strstr(t, "# handle ");
            finding *f;
            sscanf(h + 9, "%31s", handle);
            f = add("firewall", 1, "a firewall rule drops the traffic (nftables %s %s, chain %s)", fam,
                    table, chain);
            appendf(f->evidence, sizeof f->evidence, "rule: %.400s", t);
            appendf(f->fix, sizeof f->fix, "nft delete rule %s %s %s handle %s", fam, table, chain,
                     handle);
        }
    }
    if (hooked && policy_drop && accepts == 0 && pol_chain[0] == '\0')
        snprintf(pol_chain, sizeof pol_chain, "%s %s %s", fam, table, chain);
    if (pol_chain[0]) {
        finding *f = add("firewall-policy", 1, "an input chain's policy is drop and no rule accepts this traffic");
        appendf(f->evidence, sizeof f->evidence, "chain: %s (policy drop)", pol_chain);
        appendf(f->fix, sizeof f->fix, "nft add rule %s udp dport %lu accept", pol_chain, port);
    }
}

static void print_text(const char *head, int traffic_checked, unsigned long long dgs, double secs,
                       const char *traffic_from, int problems) {
    int i;
    printf("%s\n", head);
    for (i = 0; i < nfind; i++) {
        finding *f = &findings[i];
        printf("%s [%s] %s\n", f->problem ? "PROBLEM" : "note", f->id, f->summary);
        if (f->evidence[0])
            printf("  evidence: %s\n", f->evidence);
        if (f->fix[0])
            printf("  fix: %s\n", f->fix);
    }
    if (traffic_checked)
        printf("traffic: %llu datagrams in %.1f s%s\n", dgs, secs, traffic_from);
    else
        printf("traffic: not checked (give --port to join and wait for datagrams)\n");
    if (problems)
        printf("result: %d problem%s found\n", problems, problems == 1 ? "" : "s");
    else if (traffic_checked && dgs > 0)
        printf("result: healthy, nothing wrong found and traffic received\n");
    else
        printf("result: nothing wrong found%s\n", traffic_checked ? ", but no traffic arrived" : "");
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int main(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0, i, json = 0, v6, ssm, problems = 0, traffic_checked = 0;
    unsigned long port = 0;
    double wait = 3;
    mcrx_subscription_config cfg;
    char gtext[MCRX_IP_STRLEN], stext[MCRX_IP_STRLEN] = "", join_if[64] = "", src_if[64] = "";
    char line[1024], line2[1024], head[512], from[512] = "";
    unsigned long long dgs = 0;
    long long rbe0, rbe1;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(a, "--port") || !strcmp(a, "--wait")) {
            if (i + 1 >= argc)
                return fail_usage("missing value after %s", a);
            if (a[2] == 'p' ? mcrx_tool_parse_ulong(argv[i + 1], 1, 65535, &port) != 0
                            : mcrx_tool_parse_seconds(argv[i + 1], &wait) != 0)
                return fail_usage("invalid value '%s'", argv[i + 1]);
            i++;
            continue;
        }
        if (!strncmp(a, "--", 2))
            return fail_usage("unexpected argument '%s'", a);
        if (npos == 3)
            return fail_usage("%s", "invalid arguments");
        pos[npos++] = a;
    }
    if (npos < 1)
        return fail_usage("%s", "missing <group>");
    mcrx_subscription_config_init(&cfg);
    if (mcrx_subscription_config_parse(&cfg, pos[0], port ? (uint16_t)port : 9, pos[1], pos[2]) !=
        MCRX_ERROR_NONE)
        return fail_usage("%s", mcrx_last_error());
    if (!mcrx_ip_is_multicast(&cfg.group))
        return fail_usage("group address %s is not multicast", pos[0]);
    if (mcrx_subscription_config_validate(&cfg) != MCRX_ERROR_NONE)
        return fail_usage("%s", mcrx_last_error());
    v6 = cfg.group.family == MCRX_IP_V6;
    ssm = mcrx_subscription_config_is_ssm(&cfg);
    {
        mcrx_ip g = cfg.group;
        g.scope_id = 0;
        mcrx_ip_format(&g, gtext, sizeof gtext);
        if (ssm)
            mcrx_ip_format(&cfg.source, stext, sizeof stext);
    }
    snprintf(head, sizeof head, "mcrx_doctor: %s%s%s, interface %s%s", gtext, ssm ? " from " : " (any source)",
             stext, pos[2] ? pos[2] : "default", port ? "" : "");

    /* 1. interfaces */
    {
        struct if_nameindex *ifs = if_nameindex(), *it;
        char list[1024] = "";
        int usable = 0;
        for (it = ifs; it != NULL && it->if_index != 0; it++) {
            char path[128];
            long flags;
            snprintf(path, sizeof path, "/sys/class/net/%s/flags", it->if_name);
            {
                FILE *f = fopen(path, "r");
                flags = 0;
                if (f) {
                    if (fscanf(f, "%lx", &flags) != 1)
                        flags = 0;
                    fclose(f);
                }
            }
            appendf(list, sizeof list, "%s%s(%s%s%s)", list[0] ? " " : "", it->if_name,
                    flags & IFF_UP ? "up" : "down", flags & IFF_MULTICAST ? ",multicast" : "",
                    flags & IFF_LOOPBACK ? ",loopback" : "");
            if ((flags & IFF_UP) && (flags & IFF_MULTICAST) && !(flags & IFF_LOOPBACK))
                usable++;
        }
        if (ifs)
            if_freenameindex(ifs);
        if (usable == 0) {
            finding *f = add("no-interface", 1, "no interface is up and multicast-capable");
            appendf(f->evidence, sizeof f->evidence, "interfaces: %s", list);
            appendf(f->fix, sizeof f->fix, "ip link set dev <if> up; ip link set dev <if> multicast on");
        }
    }

    /* 2. the join interface against the route to the source */
    if (cfg.interface.family != MCRX_IP_NONE) {
        iface_of_addr(&cfg.interface, join_if, sizeof join_if);
        if (join_if[0] == '\0') {
            finding *f = add("interface", 1, "no local interface has the address %s", pos[2]);
            appendf(f->fix, sizeof f->fix, "ip addr show  (and give one of the local addresses)");
        }
    } else if (cfg.interface_index != MCRX_NO_INTERFACE_INDEX) {
        if (if_indextoname((unsigned)cfg.interface_index, join_if) == NULL) {
            join_if[0] = '\0';
            add("interface", 1, "no interface has index %lld", (long long)cfg.interface_index);
        }
    } else if (route_dev(gtext, v6, join_if, sizeof join_if, line, sizeof line) != 0) {
        finding *f = add("no-route", 1, "no route covers the group, so a join without an interface fails");
        appendf(f->evidence, sizeof f->evidence, "ip route get %s: %s", gtext, line);
        appendf(f->fix, sizeof f->fix, "give the interface, or: ip %sroute add %s dev <if>",
                 v6 ? "-6 " : "", v6 ? "ff00::/8" : "224.0.0.0/4");
    }
    if (join_if[0]) {
        char path[160];
        long flags;
        snprintf(path, sizeof path, "/sys/class/net/%s/flags", join_if);
        {
            FILE *f = fopen(path, "r");
            flags = 0;
            if (f) {
                if (fscanf(f, "%lx", &flags) != 1)
                    flags = 0;
                fclose(f);
            }
        }
        if (!(flags & IFF_UP) || !(flags & IFF_MULTICAST)) {
            finding *f = add("interface-down", 1, "the join interface %s is %s", join_if,
                             !(flags & IFF_UP) ? "down" : "not multicast-capable");
            appendf(f->evidence, sizeof f->evidence, "%s flags 0x%lx", path, flags);
            appendf(f->fix, sizeof f->fix, "ip link set dev %s up multicast on", join_if);
        }
    }
    if (ssm && route_dev(stext, v6, src_if, sizeof src_if, line2, sizeof line2) != 0)
        src_if[0] = '\0';
    if (ssm && join_if[0] && src_if[0] && strcmp(join_if, src_if) &&
        cfg.interface.family == MCRX_IP_NONE && cfg.interface_index == MCRX_NO_INTERFACE_INDEX) {
        finding *f = add("wrong-interface", 1,
                         "a join without an interface goes out %s, but the source %s is routed on %s",
                         join_if, stext, src_if);
        appendf(f->evidence, sizeof f->evidence, "ip route get %s: %s; ip route get %s: %s", gtext,
                 line, stext, line2);
        appendf(f->fix, sizeof f->fix,
                 "give the interface: mcrx_recv %s <port> %s <address of %s>; or route the group: "
                 "ip %sroute add %s dev %s",
                 gtext, stext, src_if, v6 ? "-6 " : "", gtext, src_if);
    }

    /* 3. IGMP / MLD version with SSM */
    if (ssm && join_if[0]) {
        char pa[160], pi[160];
        long all, dev;
        const char *key = v6 ? "force_mld_version" : "force_igmp_version";
        snprintf(pa, sizeof pa, "/proc/sys/net/ipv%c/conf/all/%s", v6 ? '6' : '4', key);
        snprintf(pi, sizeof pi, "/proc/sys/net/ipv%c/conf/%s/%s", v6 ? '6' : '4', join_if, key);
        all = read_long(pa, 0);
        dev = read_long(pi, 0);
        if ((!v6 && (all == 1 || all == 2 || dev == 1 || dev == 2)) || (v6 && (all == 1 || dev == 1))) {
            finding *f = add("igmp-version", 1,
                             "%s is forced to version %ld, which cannot carry a source-specific join",
                             v6 ? "MLD" : "IGMP", all == 1 || all == 2 ? all : dev);
            appendf(f->evidence, sizeof f->evidence, "net.ipv%c.conf.all.%s = %ld, net.ipv%c.conf.%s.%s = %ld",
                     v6 ? '6' : '4', key, all, v6 ? '6' : '4', join_if, key, dev);
            appendf(f->fix, sizeof f->fix, "sysctl -w net.ipv%c.conf.all.%s=0 net.ipv%c.conf.%s.%s=0",
                     v6 ? '6' : '4', key, v6 ? '6' : '4', join_if, key);
        } else if (!v6) {
            char q[8];
            if (proc_has_group(&cfg.group, join_if, q, sizeof q) >= 0 && (!strcmp(q, "V1") || !strcmp(q, "V2"))) {
                finding *f = add("igmp-querier", 1,
                                 "an IGMP%s querier on %s makes the host answer in %s, without sources",
                                 q, join_if, q);
                appendf(f->evidence, sizeof f->evidence, "/proc/net/igmp: %s querier %s", join_if, q);
                appendf(f->fix, sizeof f->fix, "configure the link's querier (router) for IGMPv3");
            }
        }
    }

    /* 4. rp_filter (IPv4) */
    if (ssm && !v6 && join_if[0]) {
        char pa[160];
        long all, dev, eff;
        snprintf(pa, sizeof pa, "/proc/sys/net/ipv4/conf/%s/rp_filter", join_if);
        all = read_long("/proc/sys/net/ipv4/conf/all/rp_filter", 0);
        dev = read_long(pa, 0);
        eff = all > dev ? all : dev;
        if ((eff == 1 && src_if[0] && strcmp(src_if, join_if)) || (eff == 2 && src_if[0] == '\0')) {
            char check[512];
            finding *f = add("rp_filter", 1,
                             "reverse-path filtering drops the source %s on %s (rp_filter %s)", stext,
                             join_if, eff == 1 ? "strict" : "loose");
            run(check, sizeof check, "ip -o route get %s from %s iif %s 2>&1", gtext, stext, join_if);
            appendf(f->evidence, sizeof f->evidence,
                     "net.ipv4.conf.all.rp_filter = %ld, net.ipv4.conf.%s.rp_filter = %ld (effective %ld); "
                     "route back to the source: %s; ip route get %s from %s iif %s: %s",
                     all, join_if, dev, eff, src_if[0] ? line2 : "none", gtext, stext, join_if, check);
            appendf(f->fix, sizeof f->fix,
                     "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2  "
                     "(or route the source back through %s: ip route add %s/32 dev %s)",
                     join_if, join_if, stext, join_if);
        }
    }

    /* 5. firewall */
    check_firewall(gtext, ssm ? stext : NULL, port, v6);

    /* 6. limits */
    if (!v6) {
        long mm = read_long("/proc/sys/net/ipv4/igmp_max_memberships", -1);
        long msf = read_long("/proc/sys/net/ipv4/igmp_max_msf", -1);
        if (mm == 0) {
            finding *f = add("limit", 1, "net.ipv4.igmp_max_memberships is 0: no socket can join a group");
            appendf(f->evidence, sizeof f->evidence, "/proc/sys/net/ipv4/igmp_max_memberships = 0");
            appendf(f->fix, sizeof f->fix, "sysctl -w net.ipv4.igmp_max_memberships=1024");
        }
        if (ssm && msf == 0) {
            finding *f = add("limit", 1, "net.ipv4.igmp_max_msf is 0: no socket can add a source");
            appendf(f->evidence, sizeof f->evidence, "/proc/sys/net/ipv4/igmp_max_msf = 0");
            appendf(f->fix, sizeof f->fix, "sysctl -w net.ipv4.igmp_max_msf=64");
        }
    } else if (ssm && read_long("/proc/sys/net/ipv6/mld_max_msf", -1) == 0) {
        finding *f = add("limit", 1, "net.ipv6.mld_max_msf is 0: no socket can add a source");
        appendf(f->evidence, sizeof f->evidence, "/proc/sys/net/ipv6/mld_max_msf = 0");
        appendf(f->fix, sizeof f->fix, "sysctl -w net.ipv6.mld_max_msf=64");
    }

    /* 7. a join of our own, the kernel's membership, and traffic */
    rbe0 = rcvbuf_errors(v6);
    {
        mcrx_context *ctx = mcrx_context_new();
        uint64_t id = 0;
        int joined = 0;
        cfg.rx_options |= MCRX_RX_PKTINFO;
        if (ctx == NULL || mcrx_context_add(ctx, &cfg, &id) != MCRX_STATUS_OK ||
            mcrx_context_join_subscription(ctx, id) != MCRX_STATUS_OK) {
            int os = ctx ? mcrx_context_last_os_error(ctx) : 0;
            /* The kernel's ENOBUFS, or the library's check before asking. */
            int limit = os == ENOBUFS || (ctx != NULL && mcrx_context_last_error_code(ctx) ==
                                                            MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED);
            finding *f = add(limit ? "limit" : "join-failed", 1, "the join failed%s",
                             limit ? ": a membership limit is reached" : "");
            appendf(f->evidence, sizeof f->evidence, "%s", ctx ? mcrx_context_last_error(ctx) : mcrx_last_error());
            if (limit)
                appendf(f->fix, sizeof f->fix, "sysctl -w net.ipv4.igmp_max_memberships=1024 net.ipv4.igmp_max_msf=64");
        } else {
            joined = 1;
        }
        if (joined && join_if[0]) {
            int g = proc_has_group(&cfg.group, join_if, NULL, 0);
            int s = ssm ? proc_has_source(&cfg.group, &cfg.source, join_if) : 1;
            if (g == 0 || s == 0) {
                finding *f = add("membership-missing", 1,
                                 "after a successful join the kernel lists no %s on %s",
                                 g == 0 ? "membership" : "source filter", join_if);
                appendf(f->evidence, sizeof f->evidence, "%s has no %s %s on %s",
                         g == 0 ? (v6 ? "/proc/net/igmp6" : "/proc/net/igmp")
                                : (v6 ? "/proc/net/mcfilter6" : "/proc/net/mcfilter"),
                         gtext, g == 0 ? "" : stext, join_if);
                appendf(f->fix, sizeof f->fix, "ip maddr show dev %s; check the interface the join used", join_if);
            }
        }
        if (joined && port) {
            static unsigned char buf[MCRX_MAX_DATAGRAM];
            mcrx_datagram dg;
            mcrx_metadata md;
            double end = mcrx_tool_mono() + wait;
            traffic_checked = 1;
            mcrx_datagram_init(&dg, buf, sizeof buf);
            dg.meta = &md;
            while (mcrx_tool_mono() < end) {
                size_t got = 0;
                if (mcrx_context_recv(ctx, &dg, &got) != MCRX_STATUS_OK)
                    break;
                if (got) {
                    if (dgs++ == 0) {
                        char s[MCRX_IP_STRLEN], ifn[IF_NAMESIZE + 1] = "?";
                        mcrx_ip_format(&dg.source, s, sizeof s);
                        if (md.valid & MCRX_META_INGRESS_IF)
                            if_indextoname(md.ingress_interface_index, ifn);
                        snprintf(from, sizeof from, " (first from %s on %s)", s, ifn);
                    }
                    continue;
                }
                {
                    struct pollfd p = {.fd = (int)mcrx_context_fd(ctx), .events = POLLIN};
                    int ms = (int)((end - mcrx_tool_mono()) * 1000) + 1;
                    poll(&p, 1, ms > 0 ? ms : 0);
                }
            }
            if (dgs == 0) {
                finding *f = add("no-traffic", 1, "nothing arrived on %s port %lu in %.1f s", gtext, port, wait);
                appendf(f->evidence, sizeof f->evidence, "joined%s%s on %s; no datagram delivered",
                         ssm ? " with source " : "", stext, join_if[0] ? join_if : "?");
                appendf(f->fix, sizeof f->fix,
                         "check that the sender sends to %s:%lu with a TTL that reaches this host "
                         "(mcrx_send --ttl), and the findings above",
                         gtext, port);
            }
        }
        if (ctx) {
            if (joined)
                mcrx_context_leave_subscription(ctx, id);
            mcrx_context_free(ctx);
        }
    }
    rbe1 = rcvbuf_errors(v6);
    if (rbe0 >= 0 && rbe1 > rbe0) {
        finding *f = add("rcvbuf-errors", 1, "UDP receive buffers overflowed while we listened (%lld datagrams dropped)",
                         rbe1 - rbe0);
        appendf(f->evidence, sizeof f->evidence, "%s %s: %lld -> %lld", v6 ? "/proc/net/snmp6" : "/proc/net/snmp",
                 v6 ? "Udp6RcvbufErrors" : "Udp RcvbufErrors", rbe0, rbe1);
        appendf(f->fix, sizeof f->fix,
                 "sysctl -w net.core.rmem_max=8388608; mcrx_recv --rcvbuf 4194304; read faster");
    } else if (rbe1 > 0) {
        finding *f = add("rcvbuf-errors-past", 0, "UDP receive buffers overflowed before (not while we listened)");
        appendf(f->evidence, sizeof f->evidence, "%s RcvbufErrors = %lld", v6 ? "/proc/net/snmp6" : "/proc/net/snmp", rbe1);
    }
    {
        finding *f = add("wire-check", 0,
                         "not checked: whether datagrams reach %s but are not delivered needs raw "
                         "capture, which mcrx-core does not have yet",
                         join_if[0] ? join_if : "the interface");
        appendf(f->fix, sizeof f->fix, "look yourself: tcpdump -ni %s udp and dst %s",
                 join_if[0] ? join_if : "any", gtext);
    }
    for (i = 0; i < nfind; i++)
        problems += findings[i].problem;
    if (json) {
        printf("{\"group\":");
        json_str(gtext);
        printf(",\"source\":");
        if (ssm)
            json_str(stext);
        else
            printf("null");
        printf(",\"interface\":");
        if (pos[2])
            json_str(pos[2]);
        else
            printf("null");
        printf(",\"join_interface\":");
        if (join_if[0])
            json_str(join_if);
        else
            printf("null");
        printf(",\"port\":");
        if (port)
            printf("%lu", port);
        else
            printf("null");
        printf(",\"traffic\":{\"checked\":%s,\"datagrams\":%llu,\"seconds\":%.1f}",
               traffic_checked ? "true" : "false", dgs, traffic_checked ? wait : 0.0);
        printf(",\"problems\":%d,\"healthy\":%s,\"findings\":[", problems,
               problems == 0 && dgs > 0 ? "true" : "false");
        for (i = 0; i < nfind; i++) {
            printf("%s{\"id\":", i ? "," : "");
            json_str(findings[i].id);
            printf(",\"severity\":\"%s\",\"summary\":", findings[i].problem ? "problem" : "note");
            json_str(findings[i].summary);
            printf(",\"evidence\":");
            json_str(findings[i].evidence);
            printf(",\"fix\":");
            json_str(findings[i].fix);
            putchar('}');
        }
        printf("]}\n");
    } else {
        print_text(head, traffic_checked, dgs, wait, from, problems);
    }
    return problems == 0 && dgs > 0 ? 0 : 1;
}
