#!/usr/bin/env bash
# keycheck benchmark: `keycheck check DIR --format json` against the shell loop people
# write today to inventory their keys:
#
#   for f in DIR/*; do ssh-keygen -l -f "$f"; ssh-keygen -y -P '' -f "$f"; done
#
# over directories of 20, 200 and 2000 distinct generated keys (each with its .pub, so
# 40, 400 and 4000 files). Keys are cached under bench/out/ (gitignored); delete that
# directory to regenerate. Needs ssh-keygen and hyperfine (installed with apt-get when
# missing). Usage: bench/run.sh [SIZE...]   (default: 20 200 2000)
#
# Every encrypted key uses the throwaway passphrase `keycheck-test`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out"
pool="$out/pool"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20 200 2000)
max=0
for n in "${sizes[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
# The pool always holds at least 2000 keys so every size is a prefix of the same set.
[ "$max" -lt 2000 ] && max=2000
POOL_VERSION=1

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need hyperfine || install hyperfine
need ssh-keygen || { echo "bench: ssh-keygen missing: apt-get install openssh-client" >&2; exit 1; }

# --- the key pool -----------------------------------------------------------------------
# Key i (0-based) gets a kind from i mod 20, so every prefix of the pool is mixed:
#   0-7   ed25519, OpenSSH, no passphrase        10-11 ecdsa-256, PEM (SEC1)
#   8-9   ecdsa-256/384, OpenSSH                  12    ecdsa-384, PKCS#8
#   13-15 ed25519, OpenSSH, passphrase (bcrypt 16 rounds, the default)
#   16    ecdsa-256, PKCS#8, passphrase (PBES2)   17    rsa-2048, PEM (PKCS#1)
#   18    rsa-2048, OpenSSH                       19    rsa-3072 (every 4th: PKCS#8)
gen_one() {
    local i=$1 dir=$2 f
    f=$(printf '%s/key-%04d' "$dir" "$i")
    [ -s "$f" ] && [ -s "$f.pub" ] && return 0
    rm -f "$f" "$f.pub"
    local k=$((i % 20)) args
    case $k in
        [0-7]) args=(-t ed25519 -N '') ;;
        8) args=(-t ecdsa -b 256 -N '') ;;
        9) args=(-t ecdsa -b 384 -N '') ;;
        10 | 11) args=(-t ecdsa -b 256 -m PEM -N '') ;;
        12) args=(-t ecdsa -b 384 -m PKCS8 -N '') ;;
        13 | 14 | 15) args=(-t ed25519 -N keycheck-test) ;;
        16) args=(-t ecdsa -b 256 -m PKCS8 -N keycheck-test) ;;
        17) args=(-t rsa -b 2048 -m PEM -N '') ;;
        18) args=(-t rsa -b 2048 -N '') ;;
        19) if [ $((i % 80)) -eq 79 ]; then
                args=(-t rsa -b 3072 -m PKCS8 -N '')
            else
                args=(-t rsa -b 3072 -N '')
            fi ;;
    esac
    ssh-keygen -q "${args[@]}" -C "bench-key-$i" -f "$f" </dev/null >/dev/null
}
export -f gen_one

if [ "$(cat "$pool/.complete" 2>/dev/null)" != "v$POOL_VERSION:$max" ]; then
    mkdir -p "$pool"
    echo "bench: generating $max keys into $pool (cached; takes a while once)" >&2
    start=$(date +%s)
    export BENCH_POOL="$pool"
    seq 0 $((max - 1)) | xargs -P "$(nproc)" -n 16 bash -c \
        'for i in "$@"; do gen_one "$i" "$BENCH_POOL"; done' _
    echo "v$POOL_VERSION:$max" >"$pool/.complete"
    echo "bench: generated in $(($(date +%s) - start)) s" >&2
fi

for n in "${sizes[@]}"; do
    d="$out/keys-$n"
    if [ "$(cat "$out/.keys-$n" 2>/dev/null)" != "v$POOL_VERSION" ]; then
        rm -rf "$d"
        mkdir -p "$d"
        chmod 700 "$d"
        for ((i = 0; i < n; i++)); do
            f=$(printf 'key-%04d' "$i")
            cp -p "$pool/$f" "$pool/$f.pub" "$d/"
        done
        echo "v$POOL_VERSION" >"$out/.keys-$n"
    fi
done

# --- keycheck, release build -----------------------------------------------------------------
(cd "$repo" && cargo build --release --quiet)
keycheck="$repo/target/release/keycheck"
home="$out/home"
mkdir -p "$home"

# --- measure ----------------------------------------------------------------------------
results="$out/results.txt"
{
    echo "# keycheck bench, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
    echo "# $(ssh -V 2>&1), $(hyperfine --version)"
    printf '%-6s %-6s %14s %14s %10s\n' keys files keycheck_ms shell_ms ratio
} >"$results"

for n in "${sizes[@]}"; do
    d="$out/keys-$n"
    files=$(find "$d" -maxdepth 1 -type f | wc -l)
    if [ "$n" -ge 2000 ]; then shell_runs=(--runs 3); elif [ "$n" -ge 200 ]; then shell_runs=(--runs 5); else shell_runs=(--min-runs 10); fi
    # Sanity: keycheck must really inventory every file (hyperfine -i hides exit codes).
    set +e
    HOME="$home" NO_COLOR=1 "$keycheck" check "$d" --format json >"$out/check-$n.json"
    rc=$?
    set -e
    seen=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["keys"], s["errors"], s["skipped"])' "$out/check-$n.json")
    if [ "$rc" -gt 1 ] || [ "$seen" != "$files 0 0" ]; then
        echo "bench: keycheck exit $rc, keys/errors/skipped = $seen, expected $files 0 0" >&2
        exit 1
    fi
    csv_k="$out/keycheck-$n.csv"
    csv_s="$out/shell-$n.csv"
    echo "== $n keys ($files files) ==" >&2
    # keycheck exits 1 here (unencrypted keys are failing findings): -i ignores that.
    HOME="$home" NO_COLOR=1 hyperfine -N -i --warmup 5 --min-runs 30 \
        --export-csv "$csv_k" --command-name "keycheck ($n keys)" \
        "$keycheck check $d --format json"
    hyperfine -i --warmup 1 "${shell_runs[@]}" \
        --export-csv "$csv_s" --command-name "ssh-keygen loop ($n keys)" \
        "for f in $d/*; do ssh-keygen -l -f \"\$f\"; ssh-keygen -y -P '' -f \"\$f\"; done >/dev/null 2>&1"
    k=$(awk -F, 'NR==2 {print $2}' "$csv_k")
    s=$(awk -F, 'NR==2 {print $2}' "$csv_s")
    awk -v n="$n" -v files="$files" -v k="$k" -v s="$s" \
        'BEGIN { printf "%-6s %-6s %14.2f %14.1f %9.0fx\n", n, files, k * 1000, s * 1000, s / k }' >>"$results"
done

echo
cat "$results"
k20=$(awk '$1 == 20 {print $3}' "$results")
r200=$(awk '$1 == 200 {print $5}' "$results" | tr -d x)
[ -n "$k20" ] && echo "20 keys: keycheck mean ${k20} ms (target < 5 ms)"
[ -n "$r200" ] && echo "200 keys: keycheck ${r200}x faster than the ssh-keygen loop (target >= 50x)"
