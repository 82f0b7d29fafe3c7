/* The tools' OS layer on Windows (compat.h): Winsock for the sender, console
 * control events for the stop signals, the library's own wait, and
 * QueryPerformanceCounter. Nothing here needs more than Windows' own DLLs. */
#include "compat.h"
#include "tool_common.h"

#include <iphlpapi.h>
#include <windows.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stop request waits at most this long to be seen (ms). */
#define STOP_SLICE_MS 100

int mcrx_tool_net_init(const char *name) {
    WSADATA d;
    int rc = WSAStartup(MAKEWORD(2, 2), &d);
    if (rc != 0) {
        fprintf(stderr, "%s: WSAStartup: error %d\n", name, rc);
        return -1;
    }
    return 0;
}

const char *mcrx_tool_net_error(void) {
    static char text[256];
    int code = WSAGetLastError();
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             (DWORD)code, MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), text,
                             sizeof text, NULL);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == '.'))
        text[--n] = '\0';
    if (n == 0)
        snprintf(text, sizeof text, "Winsock error %d", code);
    return text;
}

int mcrx_tool_net_busy(void) {
    int code = WSAGetLastError();
    return code == WSAENOBUFS || code == WSAEWOULDBLOCK;
}

void mcrx_tool_sock_close(mcrx_sock s) {
    closesocket((SOCKET)s);
}

unsigned mcrx_tool_v6_index_of(const mcrx_ip *ip) {
    ULONG size = 16384, rc;
    IP_ADAPTER_ADDRESSES *list = NULL, *a;
    unsigned idx = 0;
    do {
        free(list);
        list = malloc(size);
        if (list == NULL)
            return 0;
        /* AF_UNSPEC: wine 8.0 fails AF_INET6 (error 9852). */
        rc = GetAdaptersAddresses(AF_UNSPEC, GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST |
                                                 GAA_FLAG_SKIP_DNS_SERVER,
                                  NULL, list, &size);
    } while (rc == ERROR_BUFFER_OVERFLOW);
    for (a = rc == NO_ERROR ? list : NULL; a != NULL && idx == 0; a = a->Next) {
        IP_ADAPTER_UNICAST_ADDRESS *u;
        for (u = a->FirstUnicastAddress; u != NULL && idx == 0; u = u->Next) {
            const struct sockaddr_in6 *in6 = (const void *)u->Address.lpSockaddr;
            if (in6->sin6_family == AF_INET6 && memcmp(&in6->sin6_addr, ip->bytes, 16) == 0)
                /* Windows numbers an interface alike for both families;
                 * wine 8.0 leaves Ipv6IfIndex 0. */
                idx = (unsigned)(a->Ipv6IfIndex != 0 ? a->Ipv6IfIndex : a->IfIndex);
        }
    }
    free(list);
    return idx;
}

static void (*stop_handler)(int);
/* Manual-reset event, set by a stop request: ends waits and sleeps early. */
static HANDLE stop_event;

static int stop_seen(void) {
    return stop_event != NULL && WaitForSingleObject(stop_event, 0) == WAIT_OBJECT_0;
}

static BOOL WINAPI on_console(DWORD event) {
    int sig = event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT ? SIGINT : SIGTERM;
    if (stop_handler != NULL)
        stop_handler(sig);
    SetEvent(stop_event);
    /* Closing the console ends the process when this returns: give the main
     * thread its slice to leave the group and close. */
    if (event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT)
        Sleep(2 * STOP_SLICE_MS);
    return TRUE;
}

void mcrx_tool_on_stop(void (*handler)(int), int hold) {
    (void)hold; /* the wait below looks at the request every slice */
    stop_handler = handler;
    if (stop_event == NULL)
        stop_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    SetConsoleCtrlHandler(on_console, TRUE);
}

int mcrx_tool_wait(mcrx_context *ctx, double seconds, char *why, size_t len) {
    double until = mcrx_tool_mono() + seconds;
    for (;;) {
        int ready = 0, ms = STOP_SLICE_MS;
        if (seconds >= 0) {
            double left = until - mcrx_tool_mono();
            if (left <= 0)
                return 0;
            if (left * 1000 < ms)
                ms = (int)(left * 1000) + 1;
        }
        if (mcrx_context_wait(ctx, ms, &ready) != MCRX_STATUS_OK) {
            snprintf(why, len, "%s", mcrx_context_last_error(ctx));
            return -1;
        }
        if (ready || stop_seen())
            return 0;
    }
}

void mcrx_tool_sleep(double seconds) {
    DWORD ms = (DWORD)(seconds * 1000 + 0.5);
    if (seconds <= 0)
        return;
    if (stop_event != NULL)
        WaitForSingleObject(stop_event, ms);
    else
        Sleep(ms);
}

double mcrx_tool_mono(void) {
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart / (double)freq.QuadPart;
}

int64_t mcrx_tool_realtime_ns(void) {
    FILETIME ft;
    ULARGE_INTEGER t;
    GetSystemTimePreciseAsFileTime(&ft);
    t.LowPart = ft.dwLowDateTime;
    t.HighPart = ft.dwHighDateTime;
    /* 100 ns units since 1601-01-01 */
    return ((int64_t)t.QuadPart - 116444736000000000LL) * 100;
}

void mcrx_tool_sleep_until(double t) {
    mcrx_tool_sleep(t - mcrx_tool_mono());
}

void mcrx_tool_pause(double seconds) {
    if (seconds > 0)
        Sleep((DWORD)(seconds * 1000 + 0.5));
}

void mcrx_tool_ifname(unsigned index, char *buf, size_t len) {
    char name[IF_NAMESIZE + 1];
    if (len == 0)
        return;
    buf[0] = '\0';
    if (if_indextoname(index, name) != NULL)
        snprintf(buf, len, "%s", name);
}

/* Windows keeps what was asked for: less means the stack refused part. */
void mcrx_tool_rcvbuf_report(FILE *f, const char *name, unsigned long asked, size_t have) {
    fprintf(f, "rcvbuf: asked %lu bytes, Windows has %zu\n", asked, have);
    if (have < (size_t)asked)
        fprintf(stderr, "%s: --rcvbuf %lu was reduced by Windows to %zu bytes\n", name, asked,
                have);
    fflush(f);
}
