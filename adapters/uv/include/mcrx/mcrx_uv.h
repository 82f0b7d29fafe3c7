/*
 * mcrx-core-uv: receive with mcrx-core on a libuv loop.
 *
 * A receiver owns either one subscription (taken from a context) or a whole
 * context, watches its socket(s) with a uv_poll_t, and hands each datagram to
 * a callback on the loop thread:
 *
 *   mcrx_uv_receiver *r;
 *   mcrx_uv_receiver_init_subscription(loop, &r, sub);   // r owns sub now
 *   mcrx_uv_recv_start(r, MCRX_UV_METADATA, on_datagram, user);
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   ...
 *   mcrx_uv_close(r, on_closed);   // like uv_close: freed after the callback
 *
 * Conventions follow libuv: calls return 0 or a negative error (UV_EINVAL,
 * UV_ENOMEM, UV_EBUSY, UV_EIO, ...); start/stop may be called any number of
 * times, from inside the callback too; close is asynchronous and final.
 * After a failure mcrx_uv_last_error(r) holds a message starting "MCRX: "
 * that names the cause; mcrx_uv_last_error(NULL) when the call had no
 * receiver (a failed init, a NULL receiver).
 * Everything runs on the loop's thread: a receiver is not thread-safe.
 */
#ifndef MCRX_UV_H
#define MCRX_UV_H

#include <mcrx/mcrx.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MCRX_UV_EXTERN
#  if defined(__GNUC__)
#    define MCRX_UV_EXTERN __attribute__((visibility("default")))
#  else
#    define MCRX_UV_EXTERN
#  endif
#endif

typedef struct McrxUvReceiver mcrx_uv_receiver;

/* Ask for mcrx_metadata with each datagram (dg->meta is then set). */
#define MCRX_UV_METADATA 0x1u

/*
 * Called on the loop thread. status 0: dg is a datagram whose buffer and
 * metadata stay valid until the callback returns. status < 0: receiving
 * failed (the receiver has stopped itself; mcrx_uv_last_error says why) and
 * dg is NULL.
 */
typedef void (*mcrx_uv_recv_cb)(mcrx_uv_receiver *r, int status, const mcrx_datagram *dg,
                                void *user);
typedef void (*mcrx_uv_close_cb)(mcrx_uv_receiver *r, void *user);

/* A receiver for one subscription, which it now owns (freed by close). It
 * must have been taken from its context (mcrx_context_take_subscription).
 * *out is NULL after a failure. Errors: UV_EINVAL, UV_ENOMEM, or libuv's own
 * from uv_poll_init. */
MCRX_UV_EXTERN int mcrx_uv_receiver_init_subscription(uv_loop_t *loop, mcrx_uv_receiver **out,
                                                       mcrx_subscription *sub);

/* A receiver for every joined subscription of ctx, which it now owns (freed by
 * close). Subscriptions may be added, joined, left and removed through
 * mcrx_uv_receiver_context(r) while it runs: one registration covers them all. */
MCRX_UV_EXTERN int mcrx_uv_receiver_init_context(uv_loop_t *loop, mcrx_uv_receiver **out,
                                                  mcrx_context *ctx);

/* Starts delivering to cb. flags: 0 or MCRX_UV_METADATA. Calling it again
 * while running replaces the callback. Errors: UV_EINVAL (NULL receiver or
 * callback, unknown flags, closing), UV_EBUSY (datagrams kept from a run
 * without MCRX_UV_METADATA are still undelivered and this asks for it), or
 * libuv's own from uv_poll_start. */
MCRX_UV_EXTERN int mcrx_uv_recv_start(mcrx_uv_receiver *r, unsigned flags, mcrx_uv_recv_cb cb,
                                      void *user);

/* Stops delivering. Datagrams already taken from the kernel in the current
 * round are kept and delivered first after the next start: none is lost. */
MCRX_UV_EXTERN int mcrx_uv_recv_stop(mcrx_uv_receiver *r);

/* Stops, closes the poll handle, and after libuv has closed it calls close_cb
 * (may be NULL) and frees the receiver with what it owns. */
MCRX_UV_EXTERN void mcrx_uv_close(mcrx_uv_receiver *r, mcrx_uv_close_cb close_cb, void *user);

/* The owned context (NULL for a subscription receiver), or subscription. */
MCRX_UV_EXTERN mcrx_context *mcrx_uv_receiver_context(mcrx_uv_receiver *r);
MCRX_UV_EXTERN mcrx_subscription *mcrx_uv_receiver_subscription(mcrx_uv_receiver *r);

/* The message of the last failure on r ("" when none); with NULL, that of
 * the calling thread's last failure that had no receiver to keep it. */
MCRX_UV_EXTERN const char *mcrx_uv_last_error(const mcrx_uv_receiver *r);

#ifdef __cplusplus
}
#endif

#endif
