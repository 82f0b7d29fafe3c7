/*
 * Raw IP capture: the pieces a platform lends to the raw receive paths
 * (src/raw.c, one capture per subscription; src/raw_shared.c, one capture
 * per family and interface shared by many subscriptions). Linux implements
 * them with packet sockets (linux_raw.c); a platform without raw capture
 * answers NOT_SUPPORTED (raw_unsupported.c). Not installed.
 *
 * A capture is opened with its filter attached and captures nothing until
 * started on an interface; its memberships live on a separate IP socket
 * (a membership socket), since only an IP socket makes the kernel send
 * IGMP/MLD reports.
 */
#ifndef MCRX_PLATFORM_RAW_H
#define MCRX_PLATFORM_RAW_H

#include <stdint.h>

#include "platform.h"

/* What a raw backend puts in mcrx_datagram.flags besides
 * MCRX_DATAGRAM_TRUNCATED; the raw layer turns these into the public
 * fields of mcrx_raw_packet and clears them. */
#define MCRX__RAW_CSUM_NOT_READY 0x2u /* checksum partial (TP_STATUS_CSUMNOTREADY) */
#define MCRX__RAW_CSUM_VALID 0x4u     /* the kernel verified it (TP_STATUS_CSUM_VALID) */
#define MCRX__RAW_PROTO_VALID 0x8u    /* bits 8..15 hold the IP protocol / next header */
#define MCRX__RAW_PROTO_SHIFT 8

/* The per-subscription raw receive backend (no caller sockets). */
extern const mcrx__backend mcrx__raw_backend;

/* Datagrams the kernel dropped on a raw backend endpoint's capture. */
uint64_t mcrx__raw_endpoint_drops(mcrx__endpoint *ep);

typedef struct mcrx__rawcap mcrx__rawcap;

/* Opens a capture for family (MCRX_IP_V4/V6) with a kernel filter: group
 * (and source, when not NULL) exactly, or, with group NULL, any multicast
 * destination of the family; never a copy of a datagram this host sent on
 * loopback (it is captured again as received). rx: MCRX_RX_TIMESTAMP for
 * kernel receive times. rcvbuf: receive buffer to ask for (0 = default).
 * Errors: RAW_SOCKET_CREATE_FAILED (naming CAP_NET_RAW when refused),
 * SOCKET_OPTION_FAILED, OUT_OF_MEMORY, NOT_SUPPORTED. */
mcrx_error mcrx__rawcap_open(int family, const mcrx_ip *group, const mcrx_ip *source,
                             uint32_t rx, uint32_t rcvbuf, mcrx__rawcap **out,
                             struct mcrx__err *err);
/* Starts capturing on interface ifindex (0: every interface). Errors:
 * RAW_SOCKET_BIND_FAILED. */
mcrx_error mcrx__rawcap_start(mcrx__rawcap *c, uint32_t ifindex, struct mcrx__err *err);
/* Stops capturing; what is queued stays queued. */
mcrx_error mcrx__rawcap_stop(mcrx__rawcap *c, struct mcrx__err *err);
/* Receives up to n (<= MCRX__RX_CHUNK) IP datagrams without blocking, as a
 * backend's recv: each slot gets the datagram trimmed to its IP length,
 * source from the IP header, and in info the destination, ingress
 * interface, TTL (and timestamp when asked). A datagram that is not a
 * well-formed IP datagram is reported without a destination (the core
 * discards it). */
mcrx_error mcrx__rawcap_recv(mcrx__rawcap *c, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                             size_t *got, struct mcrx__err *err);
mcrx_sock mcrx__rawcap_handle(const mcrx__rawcap *c);
/* Datagrams the kernel dropped on this capture since it was opened
 * (PACKET_STATISTICS). */
uint64_t mcrx__rawcap_drops(mcrx__rawcap *c);
void mcrx__rawcap_close(mcrx__rawcap *c);

/* An IP socket that carries memberships only (it never receives). */
mcrx_error mcrx__rawmember_open(int family, mcrx_sock *out, struct mcrx__err *err);
/* Moves its membership of from->group on the interface (ifindex, or for
 * IPv4 ifaddr; 0 / NONE: the kernel's choice) from `from` to `to`. Errors:
 * MULTICAST_JOIN_FAILED, MULTICAST_LEAVE_FAILED (with the sysctl to raise
 * when a per-socket limit is reached), SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED. */
mcrx_error mcrx__rawmember_apply(mcrx_sock s, uint32_t ifindex, const mcrx_ip *ifaddr,
                                 const mcrx__filter *from, const mcrx__filter *to,
                                 struct mcrx__err *err);
/* The interface where s holds a membership of group, 0 if none is found. */
uint32_t mcrx__rawmember_where(mcrx_sock s, const mcrx_ip *group);
void mcrx__rawmember_close(mcrx_sock s);

/* The interface a raw config receives on: the one it names, else the one
 * the kernel routes the group to. *ifaddr gets the IPv4 address to join
 * with (the configured one, or the routed interface's). Errors:
 * INTERFACE_DISCOVERY_FAILED. */
mcrx_error mcrx__raw_resolve(const mcrx_subscription_config *cfg, int route, uint32_t *ifindex,
                             mcrx_ip *ifaddr, struct mcrx__err *err);

#endif
