/*
 * mcrx_core_ffi.h: the C ABI of the Rust crate mcrx-core-ffi, implemented by
 * libmcrx-core. A program written against the Rust crate's header compiles and
 * links against this library unchanged.
 *
 * This header is a subset of <mcrx/mcrx.h>: McrxContext is the same object as
 * mcrx_context there, so a program may mix these calls with the richer API.
 *
 * Status codes: every int-returning call answers one of MCRX_STATUS_*. After a
 * failure, mcrx_context_last_error() holds a message starting with "MCRX: "
 * (and <mcrx/mcrx.h> adds mcrx_context_last_error_code() for the precise kind).
 *
 * Threads: every call on a context may be made from any thread, concurrently
 * with the others, except mcrx_context_free (see it). <mcrx/mcrx.h>,
 * "Threading", has the whole contract.
 */
#ifndef MCRX_CORE_FFI_H
#define MCRX_CORE_FFI_H

#include <stddef.h>
#include <stdint.h>

/* <windows.h> and <winsock2.h> bring objbase.h, which defines interface
 * as a macro for COM; this header names a parameter interface. Set
 * the macro aside here and give it back at the end, so that the order of
 * includes does not matter. */
#ifdef interface
#pragma push_macro("interface")
#undef interface
#define MCRX__FFI_INTERFACE_SET_ASIDE
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MCRX_EXTERN
#  if defined(_WIN32) && defined(MCRX_SHARED_BUILD)
#    define MCRX_EXTERN __declspec(dllexport)
#  elif defined(__GNUC__)
#    define MCRX_EXTERN __attribute__((visibility("default")))
#  else
#    define MCRX_EXTERN
#  endif
#endif

#define MCRX_STATUS_OK 0
#define MCRX_STATUS_INVALID_ARGUMENT 1 /* NULL pointer, unparsable string */
#define MCRX_STATUS_ERROR 2            /* everything else; see last error */
#define MCRX_STATUS_ALREADY_RUNNING 3  /* start while a receiver runs */
#define MCRX_STATUS_PANIC 4            /* kept for the Rust ABI; never returned */

typedef struct McrxContext McrxContext;

/*
 * One received datagram as the callback sees it. Every pointer (payload and
 * the NUL-terminated address strings) is valid only until the callback
 * returns. A string is NULL when the value is absent.
 */
typedef struct McrxPacketView {
    const uint8_t *payload;
    size_t payload_len;

    uint64_t subscription_id;
    const char *source_ip;
    uint16_t source_port;
    const char *group_ip;
    uint16_t dst_port;

    const char *socket_local_ip;
    uint16_t socket_local_port;
    const char *configured_interface_ip;
    uint32_t configured_interface_index;
    uint8_t has_configured_interface_index;
    const char *destination_local_ip;
    uint32_t ingress_interface_index;
    uint8_t has_ingress_interface_index;
} McrxPacketView;

typedef void (*McrxPacketCallback)(const McrxPacketView *packet, void *user_data);

/* Library version as static text, e.g. "0.1.0". */
MCRX_EXTERN const char *mcrx_ffi_version(void);

/* Message of the last failure on this thread that had no context to hold it
 * (NULL context, failed allocation, string parsing). "" when none. */
MCRX_EXTERN const char *mcrx_last_error(void);

/* A new empty context, or NULL when memory is exhausted. */
MCRX_EXTERN McrxContext *mcrx_context_new(void);

/* Stops a background receiver if one runs, closes every subscription's socket
 * (the kernel drops their memberships) and frees the context. NULL is a no-op.
 * Call it once no other call on the context is running or can begin (after a
 * mcrx_context_stop on any thread is fine), never from inside a callback. */
MCRX_EXTERN void mcrx_context_free(McrxContext *context);

/* Message of the last failed call on this context ("" after a success), by
 * whichever thread made it. With a NULL context, the thread's message. The
 * text is copied for the calling thread: valid until this thread calls
 * mcrx_context_last_error again, whatever other threads do meanwhile. */
MCRX_EXTERN const char *mcrx_context_last_error(const McrxContext *context);

/* Number of subscriptions held (0 for NULL). */
MCRX_EXTERN size_t mcrx_context_subscription_count(const McrxContext *context);

/*
 * Adds a subscription in state Bound (not joined). group is required; source
 * (SSM) and interface may be NULL. interface is an address, or for IPv6 groups
 * "fe80::1%7", "fe80::1%eth0" or a bare index "7". Returns
 * MCRX_STATUS_INVALID_ARGUMENT for NULL pointers and unparsable strings,
 * MCRX_STATUS_ERROR for validation and system failures.
 */
MCRX_EXTERN int mcrx_context_add_subscription(
    McrxContext *context,
    const char *group,
    uint16_t dst_port,
    const char *source,
    const char *interface,
    uint64_t *subscription_id_out
);

/* Joins / leaves the subscription's group. A failure leaves the state as it was. */
MCRX_EXTERN int mcrx_context_join_subscription(McrxContext *context, uint64_t subscription_id);
MCRX_EXTERN int mcrx_context_leave_subscription(McrxContext *context, uint64_t subscription_id);

/* Removes and closes the subscription in either state.
 * Unknown id: MCRX_STATUS_ERROR, "MCRX: subscription not found". */
MCRX_EXTERN int mcrx_context_remove_subscription(McrxContext *context, uint64_t subscription_id);

/*
 * Receives up to max_packets datagrams that are available now, fairly across
 * joined subscriptions, and hands each to callback. *received_out is set to 0
 * first, then to the number delivered. callback may be NULL only when
 * max_packets is 0. The callback runs on the calling thread and may call back
 * into the context (add, remove, join, leave, start, stop), but not poll it
 * again. One poll at a time: a poll while another is in progress (from inside
 * its callback, or from another thread) returns MCRX_STATUS_ERROR, kind BUSY.
 * Polling while a background receiver runs is allowed: each datagram goes to
 * one of the two, and their callbacks may run at the same time.
 */
MCRX_EXTERN int mcrx_context_poll(
    McrxContext *context,
    size_t max_packets,
    McrxPacketCallback callback,
    void *user_data,
    size_t *received_out
);

/*
 * Starts a background thread that delivers datagrams to callback as they
 * arrive. It waits on socket readiness: idle_sleep_ms is accepted for ABI
 * compatibility and ignored. While it runs, every call on the context is
 * serialised with it; callbacks run on the receiver thread, one at a time. A
 * receive error stops the receiver and is kept as the context's last error.
 *
 * If a receiver runs and has not been asked to stop: MCRX_STATUS_ALREADY_RUNNING,
 * kind ALREADY_RUNNING. From inside the receiver's callback after
 * mcrx_context_stop, the same thread carries on with the new callback once
 * this one returns. A receiver that was stopped from inside its callback, or
 * ended on an error, is joined first. Safe against start and stop racing on
 * other threads: the result is that of the calls made one after the other.
 */
MCRX_EXTERN int mcrx_context_start(
    McrxContext *context,
    McrxPacketCallback callback,
    void *user_data,
    uint32_t idle_sleep_ms
);

/* Stops the background receiver and waits for its thread to end. From
 * another thread, the receiver first delivers the batch it holds (up to 32
 * datagrams already received), so nothing counted as received is left
 * behind. From inside its own callback it stops after the callback returns,
 * and this returns at once; datagrams it had already received and not yet
 * delivered are the next receiver's first. No receiver running is not an
 * error. From any thread, concurrently
 * with start and stop: several stops at once all return once the receiver has
 * been joined (exactly once); a receiver that a racing start created after this
 * call began is left running. */
MCRX_EXTERN int mcrx_context_stop(McrxContext *context);

#ifdef __cplusplus
}
#endif

#ifdef MCRX__FFI_INTERFACE_SET_ASIDE
#undef MCRX__FFI_INTERFACE_SET_ASIDE
#pragma pop_macro("interface")
#endif

#endif /* MCRX_CORE_FFI_H */
