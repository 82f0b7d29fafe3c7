/* Wake-ups and single waits on Windows. WSAPoll watches sockets only, so a
 * wake-up is a UDP socket on 127.0.0.1 that sends itself a byte. */
#include "win_common.h"

#include <string.h>

mcrx_error mcrx__wakeup_open(mcrx_sock *w, mcrx__err *err) {
    struct sockaddr_in a;
    int alen = sizeof a;
    u_long on = 1;
    SOCKET s;
    if (mcrx__win_startup(err) != 0)
        return err->code;
    s = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, WSAGetLastError(),
                              "wake-up socket", 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Bound to a port of its own, then connected to it: it can only hear
     * itself. */
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0 ||
        connect(s, (struct sockaddr *)&a, sizeof a) != 0 || ioctlsocket(s, FIONBIO, &on) != 0) {
        int os = WSAGetLastError();
        closesocket(s);
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, os,
                              "wake-up socket on 127.0.0.1", 0);
    }
    *w = (mcrx_sock)s;
    return 0;
}

void mcrx__wakeup_signal(mcrx_sock w) {
    char b = 1;
    (void)send((SOCKET)w, &b, 1, 0); /* a queued byte already wakes the reader */
}

void mcrx__wakeup_drain(mcrx_sock w) {
    char b[16];
    while (recv((SOCKET)w, b, sizeof b, 0) > 0)
        ;
}

void mcrx__wakeup_close(mcrx_sock w) {
    if (w != MCRX_SOCK_INVALID)
        closesocket((SOCKET)w);
}

mcrx_error mcrx__wait_handle(mcrx_sock h, int timeout_ms, int *ready, mcrx__err *err) {
    WSAPOLLFD p;
    int r;
    p.fd = (SOCKET)h;
    p.events = POLLRDNORM;
    p.revents = 0;
    *ready = 0;
    r = WSAPoll(&p, 1, timeout_ms);
    if (r < 0) {
        int os = WSAGetLastError();
        return mcrx__win_fail(err, MCRX_ERROR_RECEIVE_FAILED, os,
                              os == WSAENOTSOCK ? "wait: the socket was closed outside the library"
                                                : "wait (WSAPoll)",
                              0);
    }
    if (r > 0 && (p.revents & POLLNVAL))
        return mcrx__win_fail(err, MCRX_ERROR_RECEIVE_FAILED, WSAENOTSOCK,
                              "wait: the socket was closed outside the library", 0);
    *ready = r > 0;
    return 0;
}
