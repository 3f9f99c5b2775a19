#!/usr/bin/env bash
# keycheck agent benchmark: one pass of "connect to the ssh-agent + list its identities"
# (examples/agent_pass.rs: keycheck::sys::ssh_agent::connect with its trust checks, then
# list_identities, printed like ssh-add) against `ssh-add -l -E sha256` on the same agent,
# with 0, 1 and 50 identities loaded.
#
# For each count a real `ssh-agent -D -a SOCKET` is started in a temp dir and loaded with
# the real `ssh-add` (50 keys: 40 Ed25519, 5 ECDSA P-256, 5 RSA 3072, made once in
# bench/out/agent-pass/keys). The script first checks that both print the same lines,
# then measures each command's
#   - wall time: hyperfine -N (no shell), WARMUP warm-ups, RUNS runs, alternating rounds;
#   - system calls: `strace -f -c` of one run (whole process: start-up included).
# Results go to bench/out/agent-pass/results.txt.
#
# Usage: bench/agent-pass.sh      Environment: RUNS (default 300), WARMUP (20), ROUNDS (3)
# Needs ssh-agent, ssh-add, ssh-keygen, cargo, python3; hyperfine and strace are
# installed with apt-get when missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out/agent-pass"
runs=${RUNS:-300}
warmup=${WARMUP:-20}
rounds=${ROUNDS:-3}

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need hyperfine || install hyperfine
need strace || install strace
for tool in ssh-agent ssh-add ssh-keygen cargo python3; do
    need "$tool" || { echo "bench: $tool is missing (apt-get install openssh-client)" >&2; exit 1; }
done

mkdir -p "$out/keys"
chmod 700 "$out" "$out/keys"
keys=()
for i in $(seq -w 1 50); do
    k="$out/keys/k$i"
    keys+=("$k")
    [ -f "$k" ] && continue
    if ((10#$i <= 40)); then args=(-t ed25519)
    elif ((10#$i <= 45)); then args=(-t ecdsa -b 256)
    else args=(-t rsa -b 3072); fi
    ssh-keygen -q -N '' -C "bench key $i" "${args[@]}" -f "$k" </dev/null >/dev/null
done

(cd "$repo" && cargo build --release --quiet --example agent_pass --bin keycheck)
agent_pass="$repo/target/release/examples/agent_pass"
keycheck="$repo/target/release/keycheck"

agent_pid=
scratch=$(mktemp -d)
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

calls() { # total system calls in an `strace -c` summary
    awk '$NF == "total" { print $4 }' "$1"
}

results="$out/results.txt"
{
    echo "# keycheck agent pass bench, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
    echo "# $(ssh -V 2>&1), $(hyperfine --version), $(strace -V | head -1)"
    echo "# hyperfine -N: $warmup warm-ups, $rounds rounds of $runs runs per command, alternating"
} >"$results"

rm -f "$out/hyperfine.log"
for n in 0 1 50; do
    sock="$scratch/agent-$n.sock"
    ssh-agent -D -a "$sock" </dev/null >/dev/null 2>&1 &
    agent_pid=$!
    for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.01; done
    [ -S "$sock" ] || { echo "bench: ssh-agent did not start" >&2; exit 1; }
    export SSH_AUTH_SOCK="$sock"
    if [ "$n" -gt 0 ]; then
        ssh-add -q "${keys[@]:0:$n}" </dev/null >/dev/null 2>&1
    fi

    # Same answer?
    "$agent_pass" >"$out/keycheck-$n.txt" || true
    ssh-add -l -E sha256 >"$out/ssh-add-$n.txt" || true
    if ! diff -u "$out/ssh-add-$n.txt" "$out/keycheck-$n.txt" >&2; then
        echo "bench: keycheck and ssh-add -l disagree with $n identities (diff above)" >&2
        exit 1
    fi
    [ "$(grep -c SHA256 "$out/keycheck-$n.txt" || true)" = "$n" ] ||
        { echo "bench: expected $n identities" >&2; exit 1; }

    # System calls of one whole run each.
    strace -f -c -o "$out/strace-keycheck-$n.txt" "$agent_pass" >/dev/null || true
    strace -f -c -o "$out/strace-ssh-add-$n.txt" ssh-add -l -E sha256 >/dev/null || true

    # Wall time. -i: with no identities both exit 1, as they should.
    rm -f "$out"/round-"$n"-*.json
    for ((r = 1; r <= rounds; r++)); do
        hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" \
            --export-json "$out/round-$n-$r.json" \
            --command-name keycheck "$agent_pass" \
            --command-name ssh-add "ssh-add -l -E sha256" >/dev/null 2>>"$out/hyperfine.log"
    done

    python3 - "$n" "$(calls "$out/strace-keycheck-$n.txt")" "$(calls "$out/strace-ssh-add-$n.txt")" \
        "$out"/round-"$n"-*.json >>"$results" <<'PY'
import json, statistics, sys
n, kc_calls, sa_calls, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
times = {}
for f in files:
    for r in json.load(open(f))["results"]:
        t = times.setdefault(r["command"], {"wall": [], "user": [], "system": []})
        t["wall"] += r["times"]
        k = len(r["times"])
        t["user"] += [r["user"]] * k
        t["system"] += [r["system"]] * k
print(f"\n## {n} identities")
print(f"{'':9} {'runs':>5} {'mean ms':>8} {'median ms':>10} {'min ms':>7} {'user ms':>8} {'sys ms':>7} {'syscalls':>9}")
for name, calls in (("keycheck", kc_calls), ("ssh-add", sa_calls)):
    t = times[name]
    w = t["wall"]
    print(f"{name:9} {len(w):5} {statistics.mean(w)*1e3:8.3f} {statistics.median(w)*1e3:10.3f} "
          f"{min(w)*1e3:7.3f} {statistics.mean(t['user'])*1e3:8.3f} {statistics.mean(t['system'])*1e3:7.3f} {calls:>9}")
k, s = times["keycheck"]["wall"], times["ssh-add"]["wall"]
print(f"keycheck/ssh-add wall time: {statistics.mean(k)/statistics.mean(s):.2f}x (means), "
      f"{statistics.median(k)/statistics.median(s):.2f}x (medians)")
PY
    # The pass itself, out of the whole process's calls: the socket path's stat, the euid,
    # and the socket calls.
    echo "keycheck's agent pass: $(awk '$NF ~ /^(statx|geteuid|socket|connect|setsockopt|getsockopt|sendto|recvfrom|sendmsg|recvmsg)$/ \
        { printf "%s%s %s", sep, $NF, $4; sep = ", " }' "$out/strace-keycheck-$n.txt")" >>"$results"
    # The whole command a timer would run, `keycheck cache status` (ssh -G for IdentityAgent,
    # finding the agent process, reading and writing the state file), with an empty home.
    mkdir -p "$scratch/home"
    status_cmd="env HOME=$scratch/home KEYCHECK_STATE_DIR=$scratch/state-$n SSH_AUTH_SOCK=$sock $keycheck cache status --format json"
    hyperfine -N -i --style none --warmup 3 --runs 50 --export-json "$out/cache-status-$n.json" \
        "$status_cmd" >/dev/null 2>>"$out/hyperfine.log"
    strace -f -c -o "$out/strace-cache-status-$n.txt" $status_cmd >/dev/null || true
    python3 - "$out/cache-status-$n.json" "$(calls "$out/strace-cache-status-$n.txt")" >>"$results" <<'PY'
import json, statistics, sys
w = json.load(open(sys.argv[1]))["results"][0]["times"]
print(f"keycheck cache status (whole command): median {statistics.median(w)*1e3:.2f} ms, "
      f"mean {statistics.mean(w)*1e3:.2f} ms over {len(w)} runs, {sys.argv[2]} syscalls")
PY
    kill "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
    agent_pid=
done
cat "$results"
