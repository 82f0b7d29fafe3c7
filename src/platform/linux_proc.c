/* Linux: this process's resource figures from /proc/self, the clocks, the
 * OS's error texts, and a socket's kernel drop counter. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../internal.h"

int64_t mcrx__wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The GNU strerror_r: thread-safe, may return a static text instead. */
const char *mcrx__os_error_text(int os, char *buf, size_t len) {
    const char *t = strerror_r(os, buf, len);
    if (t != buf && len > 0)
        snprintf(buf, len, "%s", t);
    return buf;
}

int64_t mcrx__mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t mcrx__plat_drops(mcrx_sock sock) {
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof mem;
    memset(mem, 0, sizeof mem);
    if (getsockopt((int)sock, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
        len <= SK_MEMINFO_DROPS * sizeof mem[0])
        return 0;
    return mem[SK_MEMINFO_DROPS];
}

static int read_file(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    size_t n;
    if (f == NULL)
        return -1;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

int mcrx__plat_max_sources(int family, uint32_t *max, const char **knob) {
    /* /proc/sys/net answers for the calling thread's network namespace,
     * where the sockets are. */
    const char *path = family == MCRX_IP_V6 ? "/proc/sys/net/ipv6/mld_max_msf"
                                            : "/proc/sys/net/ipv4/igmp_max_msf";
    char buf[32];
    char *end;
    unsigned long v;
    *knob = family == MCRX_IP_V6 ? "net.ipv6.mld_max_msf" : "net.ipv4.igmp_max_msf";
    if (read_file(path, buf, sizeof buf) != 0)
        return -1;
    v = strtoul(buf, &end, 10);
    if (end == buf || v > UINT32_MAX)
        return -1;
    *max = (uint32_t)v;
    return 0;
}

static uint64_t status_field(const char *status, const char *key) {
    const char *p = strstr(status, key);
    return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

mcrx_error mcrx__plat_hardware(mcrx_hardware_metrics *out, mcrx__err *err) {
    char stat[4096], status[8192];
    const char *p;
    unsigned long long v[24];
    long page = sysconf(_SC_PAGESIZE), tick = sysconf(_SC_CLK_TCK);
    int i;
    DIR *d;
    struct dirent *e;

    if (page <= 0)
        page = 4096;
    if (tick <= 0)
        tick = 100;
    if (read_file("/proc/self/stat", stat, sizeof stat) != 0 ||
        read_file("/proc/self/status", status, sizeof status) != 0) {
        return mcrx__fail(err, MCRX_ERROR_IO_FAILED, 0, "cannot read /proc/self");
    }
    /* The command name may hold spaces and parentheses: count from the last ')'. */
    p = strrchr(stat, ')');
    if (p == NULL) {
        return mcrx__fail(err, MCRX_ERROR_IO_FAILED, 0, "unexpected /proc/self/stat");
    }
    p++;
    for (i = 0; i < 24; i++) {
        char *end;
        while (*p == ' ')
            p++;
        v[i] = i == 0 ? 0 : strtoull(p, &end, 10); /* field 0 is the state letter */
        while (*p != ' ' && *p != '\0')
            p++;
    }
    out->page_faults_minor_total = v[7];
    out->page_faults_major_total = v[9];
    out->cpu_user_secs_total = (double)v[11] / (double)tick;
    out->cpu_system_secs_total = (double)v[12] / (double)tick;
    out->thread_count = v[17];
    out->virtual_memory_bytes = v[20];
    out->rss_bytes = v[21] * (uint64_t)page;
    out->ctx_switches_voluntary_total = status_field(status, "\nvoluntary_ctxt_switches:");
    out->ctx_switches_involuntary_total = status_field(status, "\nnonvoluntary_ctxt_switches:");
    d = opendir("/proc/self/fd");
    if (d != NULL) {
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                out->open_fds++;
        closedir(d);
        if (out->open_fds > 0)
            out->open_fds--; /* the directory stream itself */
    }
    return MCRX_ERROR_NONE;
}
