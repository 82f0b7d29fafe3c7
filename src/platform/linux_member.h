/*
 * Linux's IP membership calls, shared by the receive backends that keep an
 * IP socket only for memberships (the raw packet backend, linux_raw.c). The
 * UDP backend (linux_udp.c) owns them; this header lends them out without
 * changing the platform contract. Not installed.
 */
#ifndef MCRX_LINUX_MEMBER_H
#define MCRX_LINUX_MEMBER_H

#include <stdint.h>

#include "platform.h"

/* Moves the membership of ep->sock (an IPv4 or IPv6 UDP socket) on ep's
 * interface (ep->ifaddr for IPv4, ep->ifindex for IPv6) from `from` to `to`,
 * with the UDP backend's calls and error messages (the sysctl to raise when
 * a per-socket limit is reached). */
mcrx_error mcrx__linux_member_apply(mcrx__endpoint *ep, const mcrx__filter *from,
                                    const mcrx__filter *to, struct mcrx__err *err);

#endif
