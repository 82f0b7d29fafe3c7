/* The receivers' periodic metrics (the Rust tools' MCRX_METRICS_* variables):
 * JSONL files when MCRX_METRICS_SUMMARY_FILE is set, else a text summary. */
#define _GNU_SOURCE
#include "tool_common.h"

#ifdef MCRX_TOOL_HAVE_JSONL
#include <mcrx/jsonl.h>
#endif

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "<dir>/<stem>_hardware.<ext>" next to the network file. */
static void hardware_path(const char *net, char *buf, size_t len) {
    const char *slash = strrchr(net, '/');
    const char *dot = strrchr(net, '.');
    if (dot == NULL || (slash != NULL && dot < slash) || dot == (slash ? slash + 1 : net))
        snprintf(buf, len, "%s_hardware", net);
    else
        snprintf(buf, len, "%.*s_hardware%s", (int)(dot - net), net, dot);
}

/* The built-in flags with MCRX_METRICS_FLAGS_JSON merged in. Merging needs
 * mcrx-core-jsonl (jansson), which a build without it (Windows) lacks: there
 * the variable must be unset. */
static int merge_flags(const char *name, const char *builtin, const char *user, char *out,
                       size_t len) {
#ifdef MCRX_TOOL_HAVE_JSONL
    if (mcrx_jsonl_merge_flags(builtin, user ? user : "{}", out, len) != MCRX_ERROR_NONE) {
        fprintf(stderr, "%s: MCRX_METRICS_FLAGS_JSON must be a JSON object: %s\n", name,
                mcrx_last_error());
        return 1;
    }
    return 0;
#else
    if (user != NULL && *user != '\0') {
        fprintf(stderr, "%s: MCRX_METRICS_FLAGS_JSON needs mcrx-core-jsonl (jansson), which this "
                "build lacks: unset it\n", name);
        return 1;
    }
    snprintf(out, len, "%s", builtin);
    return 0;
#endif
}

int mcrx_tool_metrics_init(mcrx_tool_metrics *m, const mcrx_tool_options *o,
                           const mcrx_subscription_config *cfg, FILE *text_out) {
    const char *secs = getenv("MCRX_METRICS_SUMMARY_SECS");
    const char *file = getenv("MCRX_METRICS_SUMMARY_FILE");
    const char *node = getenv("MCRX_METRICS_NODE_ID");
    const char *user_flags = getenv("MCRX_METRICS_FLAGS_JSON");
    char builtin[1024], flags[4096], iface[96], producer[128], node_buf[256];
    unsigned long every;
    memset(m, 0, sizeof *m);
    m->text_out = text_out;
    if (secs == NULL || *secs == '\0')
        return 0;
    if (mcrx_tool_parse_ulong(secs, 1, 86400UL * 365, &every) != 0) {
        fprintf(stderr, "%s: MCRX_METRICS_SUMMARY_SECS must be a whole number > 0, not '%s'\n",
                o->name, secs);
        return 1;
    }
    m->every = (double)every;
    mcrx_context_sampler_init(&m->cs);
    mcrx_hardware_sampler_init(&m->hs);
    if (file == NULL || *file == '\0')
        return 0;

    mcrx_tool_describe_interface(cfg, iface, sizeof iface);
    {
        char src[MCRX_IP_STRLEN + 32] = "";
        int ssm = mcrx_subscription_config_is_ssm(cfg);
        /* A source list: source_addr only when it names one sender. */
        const mcrx_ip *one = cfg->sources_mode == MCRX_SOURCES_NONE ? &cfg->source
                             : cfg->sources_mode == MCRX_SOURCES_INCLUDE && cfg->nsources == 1
                                 ? &cfg->sources[0]
                                 : NULL;
        if (ssm && one != NULL) {
            char ip[MCRX_IP_STRLEN];
            mcrx_ip_format(one, ip, sizeof ip);
            snprintf(src, sizeof src, ",\"source_addr\":\"%s\"", ip);
        }
        snprintf(builtin, sizeof builtin,
                 "{\"transport\":\"udp-multicast\",\"role\":\"receiver\",\"multicast_group\":\"%s\","
                 "\"multicast_port\":%lu,\"multicast_interface\":\"%s\",\"join_mode\":\"%s\","
                 "\"source_filter\":\"%s\",\"batch_receive_enabled\":false%s}",
                 o->group, o->port, iface, ssm ? "ssm" : "asm",
                 ssm                                              ? "source-specific"
                 : cfg->sources_mode == MCRX_SOURCES_EXCLUDE && cfg->nsources > 0 ? "exclude"
                                                                  : "any",
                 src);
    }
    if (merge_flags(o->name, builtin, user_flags, flags, sizeof flags) != 0)
        return 1;
    if (node == NULL || *node == '\0') {
        mcrx_jsonl_infer_node_id(file, node_buf, sizeof node_buf);
        node = node_buf;
    }
    snprintf(producer, sizeof producer, "mcrx-core/%s", o->name);
    if (mcrx_jsonl_writer_open(file, MCRX_JSONL_NETWORK_ARTIFACT, node, producer, flags,
                               &m->net) != MCRX_ERROR_NONE) {
        fprintf(stderr, "%s: metrics file: %s\n", o->name, mcrx_last_error());
        return 1;
    }
    hardware_path(file, m->hw_path, sizeof m->hw_path);
    if (mcrx_jsonl_writer_open(m->hw_path, MCRX_JSONL_HARDWARE_ARTIFACT, node, producer, flags,
                               &m->hw) != MCRX_ERROR_NONE) {
        fprintf(stderr, "%s: metrics file: %s\n", o->name, mcrx_last_error());
        mcrx_jsonl_writer_close(m->net);
        m->net = NULL;
        return 1;
    }
    return 0;
}

double mcrx_tool_metrics_left(const mcrx_tool_metrics *m) {
    double left;
    if (m->every <= 0)
        return -1;
    left = m->next_due - mcrx_tool_mono();
    return left < 0 ? 0 : left;
}

static void text_block(FILE *f, const mcrx_context_metrics *c, const mcrx_metrics_delta *d,
                       const mcrx_hardware_delta *h) {
    fprintf(f,
            "[metrics]\n  ts: %.6f\n  interval_secs: %.6f\n  active_subscriptions: %llu\n"
            "  joined_subscriptions: %llu\n  packets_received_total: %llu\n"
            "  bytes_received_total: %llu\n  packets_received_delta: %llu\n"
            "  bytes_received_delta: %llu\n  would_block_count_total: %llu\n"
            "  would_block_count_delta: %llu\n  receive_errors_total: %llu\n"
            "  receive_errors_delta: %llu\n  join_count_total: %llu\n  join_count_delta: %llu\n"
            "  leave_count_total: %llu\n  leave_count_delta: %llu\n  batch_calls_total: %llu\n"
            "  batch_calls_delta: %llu\n  batch_packets_received_total: %llu\n"
            "  batch_packets_received_delta: %llu\n  packets_per_sec: %.3f\n"
            "  bytes_per_sec: %.3f\n  would_block_per_sec: %.3f\n  receive_errors_per_sec: %.3f\n"
            "  kernel_drops_total: %llu\n  discarded_total: %llu\n",
            (double)c->captured_at_ns / 1e9, d->interval_secs,
            (unsigned long long)c->active_subscriptions,
            (unsigned long long)c->joined_subscriptions,
            (unsigned long long)c->total_packets_received,
            (unsigned long long)c->total_bytes_received, (unsigned long long)d->packets_received,
            (unsigned long long)d->bytes_received, (unsigned long long)c->total_would_block_count,
            (unsigned long long)d->would_block_count, (unsigned long long)c->total_receive_errors,
            (unsigned long long)d->receive_errors, (unsigned long long)c->total_join_count,
            (unsigned long long)d->join_count, (unsigned long long)c->total_leave_count,
            (unsigned long long)d->leave_count, (unsigned long long)c->batch_calls,
            (unsigned long long)d->batch_calls, (unsigned long long)c->batch_packets_received,
            (unsigned long long)d->batch_packets_received, d->packets_per_sec, d->bytes_per_sec,
            d->would_block_per_sec, d->receive_errors_per_sec,
            (unsigned long long)c->total_kernel_drops, (unsigned long long)c->total_discarded);
    if (h != NULL)
        fprintf(f,
                "[hardware]\n  ts: %.6f\n  interval_secs: %.6f\n  cpu_user_secs: %.6f\n"
                "  cpu_system_secs: %.6f\n  cpu_total_secs: %.6f\n  cpu_util_percent: %.3f\n"
                "  rss_bytes: %llu\n  virtual_memory_bytes: %llu\n  thread_count: %llu\n"
                "  open_fds: %llu\n  page_faults_minor: %llu\n  page_faults_major: %llu\n"
                "  ctx_switches_voluntary: %llu\n  ctx_switches_involuntary: %llu\n",
                h->ts, h->interval_secs, h->cpu_user_secs, h->cpu_system_secs, h->cpu_total_secs,
                h->cpu_util_percent, (unsigned long long)h->rss_bytes,
                (unsigned long long)h->virtual_memory_bytes, (unsigned long long)h->thread_count,
                (unsigned long long)h->open_fds, (unsigned long long)h->page_faults_minor,
                (unsigned long long)h->page_faults_major,
                (unsigned long long)h->ctx_switches_voluntary,
                (unsigned long long)h->ctx_switches_involuntary);
    fflush(f);
}

void mcrx_tool_metrics_tick(mcrx_tool_metrics *m, mcrx_context *ctx, int force) {
    mcrx_context_metrics c;
    mcrx_hardware_metrics hw;
    mcrx_metrics_delta d;
    mcrx_hardware_delta hd;
    int have_net, have_hw = 0;
    if (m->every <= 0 || (!force && mcrx_tool_mono() < m->next_due))
        return;
    m->next_due = mcrx_tool_mono() + m->every;
    if (mcrx_context_metrics_get(ctx, &c) != MCRX_STATUS_OK)
        return;
    have_net = mcrx_context_sampler_sample(&m->cs, &c, &d);
    if (mcrx_hardware_metrics_capture(&hw) == MCRX_ERROR_NONE)
        have_hw = mcrx_hardware_sampler_sample(&m->hs, &hw, &hd);
    if (!have_net)
        return; /* the first sample only sets the baseline */
    if (m->net != NULL) {
        mcrx_jsonl_write_network(m->net, &c, &d);
        if (have_hw)
            mcrx_jsonl_write_hardware(m->hw, &hd);
    } else {
        text_block(m->text_out, &c, &d, have_hw ? &hd : NULL);
    }
}

void mcrx_tool_metrics_close(mcrx_tool_metrics *m) {
    mcrx_jsonl_writer_close(m->net);
    mcrx_jsonl_writer_close(m->hw);
    m->net = m->hw = NULL;
}
