/*
 * The system headers for sockets, socket addresses and interface names, for
 * the files outside src/platform/ that convert addresses (src/addr.c). The
 * only OS test those files need lives here.
 */
#ifndef MCRX_SYSNET_H
#define MCRX_SYSNET_H

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <netioapi.h>
#include <windows.h>
/* netioapi.h brings objbase.h all the same; its COM "interface" macro would
 * turn mcrx_subscription_config's field into the keyword struct. We use no
 * COM. */
#undef interface
#else
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#endif
