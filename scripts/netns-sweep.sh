# Sourced by the scripts that make network namespaces (scripts/netns-run.sh,
# tests/router-test.sh, tests/raw-bridge-test.sh). Each names its namespaces
# after its pid and removes them in an EXIT trap; a script killed with
# SIGKILL (ctest's timeout does that) runs no trap. mcrx_sweep_stale_netns
# removes the namespaces, and netns-run.sh's root-side veths, of such scripts
# whose pid is no longer alive. A live run's are left alone.
mcrx_sweep_stale_netns() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^mcrx(t|br|-router-)([0-9]+)-?[a-z]$ ]] || continue
    pid=${BASH_REMATCH[2]}
    [ "$pid" = "$$" ] || [ -d "/proc/$pid" ] && continue
    ip netns del "$ns" 2>/dev/null
    ip link del "mcrxt${pid}a" 2>/dev/null
    ip link del "mcrxt${pid}c" 2>/dev/null
  done
  return 0
}
