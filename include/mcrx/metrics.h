/*
 * mcrx-core metrics: counters per subscription and per context, snapshots,
 * deltas with per-second rates, samplers, the process's own hardware figures,
 * and the writer of the "heimdall-jsonl-v1" JSONL files the Rust crate writes
 * (their reader is the companion library mcrx-core-jsonl, <mcrx/jsonl.h>).
 *
 * Counting is a few integer increments per receive call; a snapshot costs one
 * system call per subscription (the kernel's drop counter) and nothing else.
 * Included by <mcrx/mcrx.h>.
 *
 * NULL pointers follow <mcrx/mcrx.h>'s one rule: functions returning a status
 * return INVALID_ARGUMENT with a "MCRX: " message, the samplers return 0 and
 * change nothing, void functions do nothing.
 */
#ifndef MCRX_METRICS_H
#define MCRX_METRICS_H

#include <stdint.h>

#include "mcrx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- per subscription ------------------------------------------------------ */

typedef struct McrxSubscriptionMetrics {
    uint64_t packets_received;
    uint64_t bytes_received;        /* payload bytes handed out */
    uint64_t would_block_count;     /* mcrx_subscription_recv* calls that found nothing */
    uint64_t receive_errors;
    uint64_t join_count;
    uint64_t leave_count;
    uint64_t truncated;             /* datagrams larger than their slot */
    /* Datagrams the isolation check discarded, by reason. */
    uint64_t discarded_other_group; /* another group or unicast to the port */
    uint64_t discarded_other_source;
    uint64_t discarded_other_interface;
    uint64_t discarded_no_pktinfo;
    /* The kernel's count of datagrams it dropped on this socket (receive
     * buffer full), read when the snapshot is taken. */
    uint64_t kernel_drops;
    /* The socket's effective receive buffer, bytes. */
    uint64_t rcvbuf_bytes;
    int has_last;                   /* the three below are set */
    uint32_t last_payload_len;
    uint16_t last_source_port;
    mcrx_ip last_source;
    int64_t last_receive_ns;        /* wall clock (Unix ns) of the last receive call that got data */
    int64_t captured_at_ns;         /* wall clock (Unix ns) of the snapshot */
    /* Interface sets: memberships the library restored by itself (an
     * interface came up or back) and lost (it went down or away). */
    uint64_t interface_rejoins;
    uint64_t interface_losses;
    uint64_t reserved_[6];
} mcrx_subscription_metrics;

/* Snapshot of sub's counters. Errors: INVALID_ARGUMENT. */
MCRX_EXTERN int mcrx_subscription_metrics_get(mcrx_subscription *sub,
                                              mcrx_subscription_metrics *out);

/* ---- per context -------------------------------------------------------------- */

/*
 * Context totals are lifetime counters: what removed or taken subscriptions
 * counted stays in them. active/joined are gauges.
 */
typedef struct McrxContextMetrics {
    uint64_t subscriptions_added;
    uint64_t subscriptions_removed;  /* removed or taken */
    uint64_t active_subscriptions;
    uint64_t joined_subscriptions;
    uint64_t total_packets_received;
    uint64_t total_bytes_received;
    uint64_t total_would_block_count; /* receive calls (context or subscription) that found nothing */
    uint64_t total_receive_errors;
    uint64_t total_join_count;
    uint64_t total_leave_count;
    uint64_t batch_calls;            /* mcrx_context_recv_batch calls, even those that got 0 */
    uint64_t batch_packets_received;
    uint64_t total_truncated;
    uint64_t total_discarded;        /* all reasons */
    uint64_t total_kernel_drops;     /* of the subscriptions held now */
    int64_t captured_at_ns;
    /* Interface events dropped because the queue (256) was full and
     * mcrx_context_next_interface_event was not called. */
    uint64_t interface_events_dropped;
    uint64_t reserved_[7];
} mcrx_context_metrics;

MCRX_EXTERN int mcrx_context_metrics_get(mcrx_context *ctx, mcrx_context_metrics *out);

/* ---- deltas and rates ------------------------------------------------------------- */

typedef struct McrxMetricsDelta {
    double interval_secs;
    uint64_t packets_received;
    uint64_t bytes_received;
    uint64_t would_block_count;
    uint64_t receive_errors;
    uint64_t join_count;
    uint64_t leave_count;
    uint64_t batch_calls;            /* context deltas only */
    uint64_t batch_packets_received; /* context deltas only */
    double packets_per_sec;          /* count / interval, 0 when the interval is 0 */
    double bytes_per_sec;
    double would_block_per_sec;
    double receive_errors_per_sec;
    uint64_t reserved_[4];
} mcrx_metrics_delta;

/* later - earlier. MCRX_ERROR_INVALID_ARGUMENT when earlier was captured after
 * later or any counter went backwards (snapshots of different objects). */
MCRX_EXTERN mcrx_error mcrx_context_metrics_delta(const mcrx_context_metrics *earlier,
                                                  const mcrx_context_metrics *later,
                                                  mcrx_metrics_delta *out);
MCRX_EXTERN mcrx_error mcrx_subscription_metrics_delta(const mcrx_subscription_metrics *earlier,
                                                       const mcrx_subscription_metrics *later,
                                                       mcrx_metrics_delta *out);

/* ---- the process's hardware figures (Linux: /proc/self) ------------------------------ */

typedef struct McrxHardwareMetrics {
    double cpu_user_secs_total;
    double cpu_system_secs_total;
    uint64_t rss_bytes;
    uint64_t virtual_memory_bytes;
    uint64_t thread_count;
    uint64_t open_fds;
    uint64_t page_faults_minor_total;
    uint64_t page_faults_major_total;
    uint64_t ctx_switches_voluntary_total;
    uint64_t ctx_switches_involuntary_total;
    int64_t captured_at_ns;
    uint64_t reserved_[4];
} mcrx_hardware_metrics;

typedef struct McrxHardwareDelta {
    double ts;                 /* Unix seconds of the later sample */
    double interval_secs;
    double cpu_user_secs;
    double cpu_system_secs;
    double cpu_total_secs;
    double cpu_util_percent;   /* cpu_total / interval * 100 */
    uint64_t rss_bytes;        /* gauges: from the later sample */
    uint64_t virtual_memory_bytes;
    uint64_t thread_count;
    uint64_t open_fds;
    uint64_t page_faults_minor; /* deltas */
    uint64_t page_faults_major;
    uint64_t ctx_switches_voluntary;
    uint64_t ctx_switches_involuntary;
    uint64_t reserved_[4];
} mcrx_hardware_delta;

/* Errors: NOT_SUPPORTED where the platform has no such source. */
MCRX_EXTERN mcrx_error mcrx_hardware_metrics_capture(mcrx_hardware_metrics *out);
MCRX_EXTERN mcrx_error mcrx_hardware_metrics_delta(const mcrx_hardware_metrics *earlier,
                                                   const mcrx_hardware_metrics *later,
                                                   mcrx_hardware_delta *out);

/* ---- samplers: keep the previous snapshot, give a delta per new one ------------------ */

typedef struct McrxContextSampler {
    int has_previous;
    mcrx_context_metrics previous;
} mcrx_context_sampler;

typedef struct McrxHardwareSampler {
    int has_previous;
    mcrx_hardware_metrics previous;
} mcrx_hardware_sampler;

/* Zeroes the sampler (also what reset means). */
MCRX_EXTERN void mcrx_context_sampler_init(mcrx_context_sampler *s);
/* Returns 1 and fills out with now - previous, 0 for the first sample (or after
 * a snapshot that went backwards); either way now becomes the previous. With
 * any argument NULL: 0, and the sampler is unchanged. */
MCRX_EXTERN int mcrx_context_sampler_sample(mcrx_context_sampler *s,
                                            const mcrx_context_metrics *now,
                                            mcrx_metrics_delta *out);
MCRX_EXTERN void mcrx_hardware_sampler_init(mcrx_hardware_sampler *s);
MCRX_EXTERN int mcrx_hardware_sampler_sample(mcrx_hardware_sampler *s,
                                             const mcrx_hardware_metrics *now,
                                             mcrx_hardware_delta *out);

/* ---- heimdall-jsonl-v1 ---------------------------------------------------------------- */

#define MCRX_JSONL_SCHEMA "heimdall-jsonl-v1"
#define MCRX_JSONL_NETWORK_ARTIFACT "mcrx-network"
#define MCRX_JSONL_HARDWARE_ARTIFACT "process-hardware"

/*
 * What JSON is read as, wherever it is read: here the writer's flags_json and
 * an existing file's header; in the companion library mcrx-core-jsonl
 * (<mcrx/jsonl.h>: mcrx_jsonl_validate_file, mcrx_jsonl_merge_flags) whole
 * files and merged flags, by the same rules. RFC 8259 exactly, as serde_json
 * reads it. Numbers follow its grammar (no NaN, Infinity, hex, leading '+'
 * or zeros) and must fit a double; strings are UTF-8 with paired surrogates;
 * an object may not repeat a key; nothing but whitespace may follow the
 * value on its line. Arrays and objects nest at
 * most MCRX_JSONL_MAX_DEPTH levels (the outermost object is level 1), which
 * bounds the reader's stack whatever the input. Anything else:
 * INVALID_ARGUMENT, with the reason in mcrx_last_error().
 *
 * What the writer writes is always valid JSON, the same in every locale
 * (LC_NUMERIC is never consulted): numbers as serde_json prints them, and a
 * NaN or infinite double as null, as serde_json writes it.
 */
#define MCRX_JSONL_MAX_DEPTH 64

/*
 * A JSONL file: one header object on the first non-empty line, then compact
 * sample rows. The writer takes an exclusive advisory lock on the file for its
 * lifetime (a second writer gets MCRX_ERROR_BUSY), creates missing parent
 * directories, and appends. An existing file must have the same schema,
 * artifact_type, node_id, producer and flags (created_at may differ), else
 * MCRX_ERROR_INVALID_ARGUMENT with the difference in mcrx_last_error().
 */
typedef struct McrxJsonlWriter mcrx_jsonl_writer;

/* flags_json: a JSON object as text ("{}" when NULL; may be NULL), written
 * to the header in canonical form (compact, keys sorted). artifact_type,
 * node_id and producer must be non-empty UTF-8. *out is NULL after a failure.
 * Errors: INVALID_ARGUMENT, BUSY, IO_FAILED, OUT_OF_MEMORY. */
MCRX_EXTERN mcrx_error mcrx_jsonl_writer_open(const char *path, const char *artifact_type,
                                              const char *node_id, const char *producer,
                                              const char *flags_json, mcrx_jsonl_writer **out);
MCRX_EXTERN mcrx_error mcrx_jsonl_write_network(mcrx_jsonl_writer *w,
                                                const mcrx_context_metrics *now,
                                                const mcrx_metrics_delta *delta);
MCRX_EXTERN mcrx_error mcrx_jsonl_write_hardware(mcrx_jsonl_writer *w,
                                                 const mcrx_hardware_delta *delta);
/* Closes the file and releases its lock. NULL is a no-op. */
MCRX_EXTERN void mcrx_jsonl_writer_close(mcrx_jsonl_writer *w);

/* "<parent dir name>", else the file stem, else "unknown", cut to fit len
 * at a character boundary. path may be NULL (read as ""). Writes into buf;
 * a NULL buf or a len of 0 writes nothing. */
MCRX_EXTERN void mcrx_jsonl_infer_node_id(const char *path, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
