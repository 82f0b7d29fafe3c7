/* What the Windows files of the platform share. */
#ifndef MCRX_WIN_COMMON_H
#define MCRX_WIN_COMMON_H

#include "sysnet.h"

#include <stdlib.h>

#include "../internal.h"

/* Winsock is started once per process, before the first socket of ours:
 * programs written for the Rust crate's C ABI never call WSAStartup. */
mcrx_error mcrx__win_startup(mcrx__err *err);

/* Records a failed Winsock call: the system's text, the WSA code and, where
 * one applies, what to change. */
mcrx_error mcrx__win_fail(mcrx__err *err, mcrx_error code, int os, const char *what,
                          int joining);

/* The index of the interface holding addr; 0 in *index when none does. */
mcrx_error mcrx__win_index_of_address(const mcrx_ip *addr, uint32_t *index);

/* One membership option call on an endpoint (mcrx__filter_apply's step). */
mcrx_error mcrx__win_member_call(void *ep, const mcrx_ip *group, const mcrx_ip *source,
                                 mcrx__member_op op, mcrx__err *err);

#endif
