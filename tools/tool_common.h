/* Helpers shared by the command-line tools. */
#ifndef MCRX_TOOL_COMMON_H
#define MCRX_TOOL_COMMON_H

#include <stdio.h>

#include <mcrx/mcrx.h>

/* Whole number in [min, max]; 0 on success. */
int mcrx_tool_parse_ulong(const char *s, unsigned long min, unsigned long max,
                          unsigned long *out);
/* Positive seconds, fractions allowed; 0 on success. */
int mcrx_tool_parse_seconds(const char *s, double *out);

/* "default", "198.51.100.2", "fe80::1%7" or "ifindex:7". */
void mcrx_tool_describe_interface(const mcrx_subscription_config *cfg, char *buf, size_t len);

/* The Rust tools' payload preview: text up to 64 characters, else hex. */
void mcrx_tool_preview(const unsigned char *p, size_t n, char *buf, size_t len);

void mcrx_tool_print_human(FILE *f, const mcrx_datagram *dg, int meta);
void mcrx_tool_print_json(FILE *f, const mcrx_datagram *dg, int meta);

int mcrx_tool_recv_main(int argc, char **argv, int meta, const char *name);

#endif
