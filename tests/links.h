/* Link changes for the interface-set tests (test_ifset, test_ifset_sources):
 * shell commands on the receiver host of netns-run.sh, re-creating its
 * second link, and waiting for the library's interface events. Failures are
 * cmocka assertions. */
#ifndef MCRX_TEST_LINKS_H
#define MCRX_TEST_LINKS_H

#include <stdint.h>

#include "mcrx/mcrx.h"

/* Reads the sender namespace's name; call after th_init. */
void tl_init(void);
/* The sender namespace's name, for ip -n / netns. */
const char *tl_sender_ns(void);
/* Runs a shell command; asserts it exits 0. */
void tl_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Waits until rx (here) and tx (on the sender) have link-local addresses. */
void tl_wait_linklocal(const char *rx, const char *tx);
/* Creates vb2 (here) and va2 (sender) with the harness's addresses, up. */
void tl_make_vb2(void);
/* Waits, receiving and nothing else, for an event of kind on ifname; a
 * FAILED event on the way fails the test. */
mcrx_interface_event tl_wait_event(mcrx_context *ctx, uint32_t kind, const char *ifname);

#endif
