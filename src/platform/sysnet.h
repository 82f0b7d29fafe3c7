/*
 * The system headers for sockets, socket addresses and interface names, for
 * the files outside src/platform/ that convert addresses (src/addr.c). The
 * only OS test those files need lives here.
 */
#ifndef MCRX_SYSNET_H
#define MCRX_SYSNET_H

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#include <netioapi.h>
#else
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#endif
