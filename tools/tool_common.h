/* Helpers shared by the command-line tools. */
#ifndef MCRX_TOOL_COMMON_H
#define MCRX_TOOL_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include <mcrx/mcrx.h>

/* A monotonic clock in seconds (compat_*.c). */
double mcrx_tool_mono(void);
/* CLOCK_REALTIME in ns since the Unix epoch. */
int64_t mcrx_tool_realtime_ns(void);

/* Whole number in [min, max]; 0 on success. */
int mcrx_tool_parse_ulong(const char *s, unsigned long min, unsigned long max,
                          unsigned long *out);
/* Positive seconds, fractions allowed; 0 on success. */
int mcrx_tool_parse_seconds(const char *s, double *out);

/* "default", "198.51.100.2", "fe80::1%7", "ifindex:7", or a set: "all",
 * "vb,vb2", "all+vb". */
void mcrx_tool_describe_interface(const mcrx_subscription_config *cfg, char *buf, size_t len);

/* The Rust tools' payload preview: text up to 64 characters, else hex. */
void mcrx_tool_preview(const unsigned char *p, size_t n, char *buf, size_t len);

void mcrx_tool_print_human(FILE *f, const mcrx_datagram *dg, int meta);
void mcrx_tool_print_json(FILE *f, const mcrx_datagram *dg, int meta);

/* Most --source / --exclude addresses one command line takes. */
#define MCRX_TOOL_MAX_SOURCES 64

/* The receivers' shared command line. */
typedef struct mcrx_tool_options {
    const char *group, *source, *interface;
    /* --source given more than once (INCLUDE list) or --exclude (EXCLUDE
     * list); a single --source stays in source. */
    const char *list[MCRX_TOOL_MAX_SOURCES];
    int nlist;
    int exclude;
    /* --interface given more than once, or "all": an interface set. */
    const char *ifaces[64];
    unsigned nifaces;
    int if_all;
    unsigned long port;
    long count;     /* -1 = unlimited */
    double timeout; /* <= 0 = none */
    int json;
    int meta;
    /* mcrx_recv / mcrx_recv_meta only (allow_extras set): */
    int allow_extras;
    int stats;            /* --stats[=SECONDS] */
    double stats_every;   /* seconds between interval lines; 0 = summary only */
    unsigned long rcvbuf; /* --rcvbuf BYTES, 0 = kernel default */
    const char *pcap;     /* --pcap FILE */
    const char *name;       /* for messages: "mcrx_recv" */
    const char *ready_name; /* banner: "mcrx-recv" */
    const char *waiting;    /* "waiting for packets ..." */
} mcrx_tool_options;

void mcrx_tool_recv_options_init(mcrx_tool_options *o, int meta, const char *name);
/* 0, or 1 after printing usage and the reason (exits 0 for --help). */
int mcrx_tool_recv_parse(int argc, char **argv, mcrx_tool_options *o);
/* Context with the subscription added and joined, or NULL after printing why. */
mcrx_context *mcrx_tool_recv_open(const mcrx_tool_options *o, mcrx_subscription_config *cfg,
                                  uint64_t *id);
void mcrx_tool_recv_banner(FILE *f, const mcrx_tool_options *o,
                           const mcrx_subscription_config *cfg, uint64_t id);
/* One datagram in the format o asks for, flushed. */
void mcrx_tool_print(FILE *f, const mcrx_datagram *dg, const mcrx_tool_options *o);

int mcrx_tool_recv_main(int argc, char **argv, int meta, const char *name);

/* Prints the interface events the context queued (rejoin), on f. */
void mcrx_tool_print_interface_events(FILE *f, mcrx_context *ctx, const char *name);

/* Periodic metrics from the MCRX_METRICS_* environment variables. */
typedef struct mcrx_tool_metrics {
    double every;     /* seconds; 0 = off */
    double next_due;  /* monotonic seconds */
    mcrx_context_sampler cs;
    mcrx_hardware_sampler hs;
    mcrx_jsonl_writer *net, *hw;
    char hw_path[4096];
    FILE *text_out;
} mcrx_tool_metrics;

/* 0, or 1 after printing why the variables are wrong. */
int mcrx_tool_metrics_init(mcrx_tool_metrics *m, const mcrx_tool_options *o,
                           const mcrx_subscription_config *cfg, FILE *text_out);
/* Seconds until the next sample is due (0 = now), -1 when off. */
double mcrx_tool_metrics_left(const mcrx_tool_metrics *m);
/* Samples when due (or now with force), writing a row or a text block. */
void mcrx_tool_metrics_tick(mcrx_tool_metrics *m, mcrx_context *ctx, int force);
void mcrx_tool_metrics_close(mcrx_tool_metrics *m);

#endif
