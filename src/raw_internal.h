/* What src/raw.c lends src/raw_shared.c. Not installed. */
#ifndef MCRX_RAW_INTERNAL_H
#define MCRX_RAW_INTERNAL_H

#include "internal.h"
#include "mcrx/raw.h"

/* The subscription config a raw config stands for (placeholder port). */
void mcrx__raw_to_sub_config(const mcrx_raw_config *raw, mcrx_subscription_config *cfg);
/* Checks caller slots; returns 0 or the status (recorded in err). */
int mcrx__raw_check_slots(const mcrx_raw_packet *pkts, size_t n, mcrx__err *err);
/* A raw packet's public fields from a datagram slot and its metadata (may
 * be NULL). */
void mcrx__raw_fill_packet(mcrx_raw_packet *p, const mcrx_datagram *dg, const mcrx_metadata *m);

#endif
