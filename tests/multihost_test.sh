#!/usr/bin/env bash
# The login-node layout across hosts made here: two network namespaces, each with its own
# hostname (a UTS namespace), joined by a bridge to this one, where mpirun and rank 0 run (the
# "login node"); Open MPI's rsh agent is `ip netns exec`, and MPI talks TCP over the bridge.
# Ranks 1-2 are on host A, ranks 3-4 on host B. A CP run across both hosts passes --check; then
# rank 3 is killed with SIGKILL mid-run: the job ends by itself within seconds, exit 1, one row
# naming rank 3, the lost rank on stderr and the summary as longca's last line (mpirun's own
# messages about the lost connection go to the same stderr: they are mpirun's). Skipped, with the reason, where
# namespaces cannot be made (not root, no iproute2, no unshare).
set -u
longca=$1
command -v mpirun >/dev/null || { echo "skipped: mpirun not found"; exit 77; }
command -v ip >/dev/null && command -v unshare >/dev/null || { echo "skipped: needs ip (iproute2) and unshare"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skipped: network namespaces need root"; exit 77; }
# The sanitizer pass of CI (LONGCA_TEST_QUICK) runs the same code on one host in mpirun_status_test.
[ -z "${LONGCA_TEST_QUICK:-}" ] || { echo "skipped: quick pass (the release pass runs it)"; exit 77; }

tmp=$(mktemp -d)
tag=lc$$                                # interface and namespace names: short and per run
net=10.$((200 + $$ % 50)).$(($$ / 50 % 250))
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
cleanup() {
    for h in a b; do ip netns del "$tag$h" 2>/dev/null; done
    ip link del "${tag}br" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
source "$(dirname "$0")/mpi_lib.sh"

made=true
ip link add "${tag}br" type bridge && ip addr add "$net.1/24" dev "${tag}br" && ip link set "${tag}br" up || made=false
n=2
for h in a b; do
    $made || break
    ns=$tag$h
    { ip netns add "$ns" && ip link add "$tag$h" type veth peer name eth0 netns "$ns" &&
      ip link set "$tag$h" master "${tag}br" up && ip netns exec "$ns" ip addr add "$net.$n/24" dev eth0 &&
      ip netns exec "$ns" ip link set eth0 up && ip netns exec "$ns" ip link set lo up; } || made=false
    echo "$net.$n $ns" >>"$tmp/hosts"
    n=$((n + 1))
done
$made || { echo "skipped: could not make the namespaces and the bridge here"; exit 77; }

# The rsh agent: "agent HOST WORDS..." runs the words in HOST's namespace under HOST's name.
cat >"$tmp/agent" <<EOF
#!/bin/sh
host=\$1; shift
ns=\$(awk -v h="\$host" '\$1 == h {print \$2}' "$tmp/hosts")
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$host; \$*"
EOF
chmod +x "$tmp/agent"

A=$net.2 B=$net.3
job() { # mpirun of the login-node layout; the same `longca` arguments on every host
    timeout 180 mpirun --enable-recovery --oversubscribe --mca plm_rsh_agent "$tmp/agent" \
        --mca oob_tcp_if_include "$net.0/24" --mca btl_tcp_if_include "$net.0/24" --mca btl tcp,self \
        -x OMP_NUM_THREADS=1 -np 1 -host "$(hostname)" "$longca" "$@" : -np 2 -host "$A:2" "$longca" "$@" \
        : -np 2 -host "$B:2" "$longca" "$@"
}

job run --cp ring --gpus 4 --seqlen 1k --iters 1 --warmup 0 --check --quiet --format csv >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && grep -q ",pass," "$tmp/out" && ok "ring x4 across 2 hosts passes --check" \
    || fail "ring across hosts: rc $rc"$'\n'"$(cat "$tmp/out" "$tmp/err")"

job run --cp ring --gpus 4 --seqlen 8k --iters 400 --warmup 0 --quiet --capture "$tmp/c.lccap" >"$tmp/out" 2>"$tmp/err" &
pid=$!
if ! kill_rank "$pid" 3 "$tmp/c.lccap" 600; then
    fail "rank 3 not found (or the run never started): $(cat "$tmp/err")"
else
    rc=$job_rc took=$job_took
    rows=$(grep -c "ring x4" "$tmp/out")
    if [ "$rc" = 1 ] && [ "$took" -le 30 ] && [ "$rows" = 1 ] && grep -q "rank 3: rank 3 was lost during the run" "$tmp/out" \
        && grep -q "worker rank 3 lost" "$tmp/err" \
        && [ "$(grep "^longca run:" "$tmp/err" | tail -1)" = "longca run: 1 of 1 run failed; 1 worker lost" ]; then
        ok "rank 3 (host B) killed mid-run -> exit 1 in ${took} s: $(grep "rank 3 lost" "$tmp/err")"
    else
        fail "rank 3 killed: rc $rc after ${took} s, $rows rows"$'\n'"$(cat "$tmp/out" "$tmp/err")"
    fi
fi

[ "$failed" = 0 ] && echo "multihost_test: all checks passed" || { echo "multihost_test: FAILED"; exit 1; }
