#!/usr/bin/env bash
# The shared library exports the Rust crate's whole C ABI, only mcrx_ names,
# and none of the names libmcrx exports or declares (a program must be able to
# link both, and include both headers: our type and macro names differ too).
# usage: symbols-test.sh LIBRARY
set -euo pipefail
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort -u)

seed_abi="mcrx_ffi_version mcrx_last_error mcrx_context_new mcrx_context_free
mcrx_context_last_error mcrx_context_subscription_count mcrx_context_add_subscription
mcrx_context_join_subscription mcrx_context_leave_subscription mcrx_context_remove_subscription
mcrx_context_poll mcrx_context_start mcrx_context_stop"
libmcrx="mcrx_ctx_get_userdata mcrx_ctx_set_userdata mcrx_ctx_new mcrx_ctx_ref mcrx_ctx_unref
mcrx_ctx_set_log_fn mcrx_ctx_get_log_priority mcrx_ctx_set_log_priority mcrx_ctx_receive_packets
mcrx_ctx_set_wait_ms mcrx_subscription_ref mcrx_subscription_unref mcrx_subscription_get_userdata
mcrx_subscription_set_userdata mcrx_subscription_get_ctx mcrx_subscription_new
mcrx_subscription_set_receive_cb mcrx_subscription_join mcrx_subscription_leave
mcrx_subscription_config_pton mcrx_subscription_ntop mcrx_packet_ref mcrx_packet_unref
mcrx_packet_get_userdata mcrx_packet_set_userdata mcrx_packet_get_subscription
mcrx_packet_get_contents mcrx_strerror mcrx_is_system_error mcrx_ctx_set_log_string_fn
mcrx_ctx_log_msg mcrx_ctx_set_receive_socket_handlers mcrx_subscription_override_ifname
mcrx_subscription_set_max_payload mcrx_packet_get_remote_port"

fail=0
for s in $seed_abi; do
  grep -qx "$s" <<<"$syms" || { echo "missing seed ABI symbol: $s"; fail=1; }
done
for s in $libmcrx; do
  grep -qx "$s" <<<"$syms" && { echo "collides with libmcrx: $s"; fail=1; }
done
while read -r s; do
  case "$s" in mcrx_*) ;; *) echo "exported without the mcrx_ prefix: $s"; fail=1 ;; esac
  case "$s" in mcrx__*) echo "internal symbol exported: $s"; fail=1 ;; esac
done <<<"$syms"
n=$(wc -l <<<"$syms")
[ "$fail" = 0 ] && echo "symbols: $n exported, all mcrx_, seed ABI complete, no libmcrx collision"
exit "$fail"
