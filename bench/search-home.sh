#!/usr/bin/env bash
# keycheck home-search benchmark: `keycheck check --search-home --format json` (with HOME
# set to the tree: the whole default run, ssh config and rules included) against
#
#   rg -l --hidden --no-ignore -- '-----BEGIN .*PRIVATE KEY-----' TREE
#
# over a generated home-like tree of ~200k source-like text files (~2 GB) in nested
# directories, with a few dozen real keys of several formats (OpenSSH, PEM with .pub,
# PKCS#8, PuTTY v2/v3, ssh.com) and decoys (TLS keys, key+certificate bundles, Cosign
# keys, source and docs that quote a BEGIN line) scattered through it.
#
# Checks first that the keys found are exactly rg's files minus the decoys plus the
# PuTTY and ssh.com keys (formats rg's pattern cannot see), then times both with
# hyperfine on a warm page cache, in alternating rounds, and prints the ratio of wall times.
#
# Usage: bench/search-home.sh
# Environment: TREE (default /tmp/keycheck-search-bench), FILES (200000),
#   KEEP_TREE=1 to keep the tree afterwards (it is deleted by default), RUNS (20: timed
#   runs of each command, in rounds of 2).
# Needs ssh-keygen, puttygen, openssl, python3; hyperfine and ripgrep are installed
# with apt-get when missing. Encrypted keys use the throwaway passphrase `keycheck-test`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out"
tree=${TREE:-/tmp/keycheck-search-bench}
files=${FILES:-200000}
runs=${RUNS:-20}
PATTERN='-----BEGIN .*PRIVATE KEY-----'

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need hyperfine || install hyperfine
need rg || install ripgrep
for tool in ssh-keygen puttygen openssl python3; do
    need "$tool" || { echo "bench: $tool is missing" >&2; exit 1; }
done

cleanup() {
    if [ "${KEEP_TREE:-0}" != 1 ]; then
        rm -rf "$tree" "$tree.manifest"
    fi
}
trap cleanup EXIT

# --- the tree -----------------------------------------------------------------------------
manifest="$tree.manifest"
if [ "$(cat "$tree/.complete" 2>/dev/null)" != "v1:$files" ]; then
    rm -rf "$tree" "$manifest"
    mkdir -p "$tree"
    start=$(date +%s)
    echo "bench: generating $files files under $tree" >&2
    python3 - "$tree" "$files" <<'PY'
import os, random, sys
root, nfiles = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261123)
words = ["self", "value", "result", "error", "config", "buffer", "index", "count",
         "request", "response", "handler", "client", "server", "parse", "render",
         "state", "token", "stream", "reader", "writer", "path", "name", "items"]
def line():
    k = rng.random()
    a, b, c = rng.choice(words), rng.choice(words), rng.choice(words)
    if k < 0.2:
        return f"fn {a}_{b}({c}: &str) -> Result<{b.title()}, Error> {{"
    if k < 0.4:
        return f"    let {a} = {b}.{c}({rng.randint(0, 9999)})?;"
    if k < 0.55:
        return f"    // {a} {b} {c}: keep the {a} in sync with {c}"
    if k < 0.7:
        return f"    if {a}.len() > {rng.randint(1, 512)} {{ return Err(Error::{b.title()}); }}"
    if k < 0.85:
        return f"import {{ {a}, {b} }} from './{c}';"
    return "}"
pool = ("\n".join(line() for _ in range(60000)) + "\n").encode()
# Directories: a home-like skeleton, then random subdirectories under it.
top = ["projects", "src/github.com/acme", "src/github.com/someone", "Documents",
       ".local/share", ".config", "work/clients", "go/pkg/mod", ".npm/_cacache",
       "Downloads", ".vscode/extensions", "notes"]
dirs = []
for t in top:
    os.makedirs(os.path.join(root, t), exist_ok=True)
    dirs.append(t)
names = ["src", "lib", "test", "tests", "docs", "internal", "pkg", "cmd", "util",
         "assets", "build", ".git", "node_modules", "vendor", "examples", "scripts"]
ndirs = max(len(top), nfiles // 18)
while len(dirs) < ndirs:
    parent = dirs[min(int(rng.expovariate(1 / (len(dirs) / 3))), len(dirs) - 1)] \
        if rng.random() < 0.7 else rng.choice(dirs)
    d = f"{parent}/{rng.choice(names)}{rng.randint(0, 99)}"
    if d.count("/") > 9:
        continue
    os.makedirs(os.path.join(root, d), exist_ok=True)
    dirs.append(d)
# Sizes: mostly small source files, a tail of large ones (mean about 11 KB).
def size():
    k = rng.random()
    if k < 0.45: return rng.randint(200, 3000)
    if k < 0.78: return rng.randint(3000, 12000)
    if k < 0.96: return rng.randint(12000, 32000)
    if k < 0.998: return rng.randint(32000, 128000)
    return rng.randint(128000, 1000000)
exts = [".rs", ".go", ".ts", ".js", ".py", ".c", ".h", ".md", ".txt", ".json", ".toml", ""]
total = 0
plen = len(pool)
for i in range(nfiles):
    d = rng.choice(dirs)
    n = size()
    off = rng.randrange(0, plen - 1)
    data = pool[off:off + n]
    while len(data) < n:
        data += pool[:n - len(data)]
    with open(os.path.join(root, d, f"f{i:06d}{rng.choice(exts)}"), "wb") as f:
        f.write(data)
    total += n
with open(os.path.join(root, ".dirs"), "w") as f:
    f.write("\n".join(dirs) + "\n")
print(f"bench: {nfiles} files, {len(dirs)} directories, {total / 1e9:.2f} GB", file=sys.stderr)
PY

    # --- keys and decoys, scattered ---------------------------------------------------------
    scratch=$(mktemp -d)
    mapfile -t dirs <"$tree/.dirs"
    rm "$tree/.dirs"
    n=0
    place() { # place KIND SRC NAME [with-pub]: copy SRC into a random directory as NAME
        local kind=$1 src=$2 name=$3 d
        while :; do
            d=$tree/${dirs[$(( (n * 7919 + 13) % ${#dirs[@]} ))]}
            n=$((n + 1))
            [ -e "$d/$name" ] || break
        done
        cp "$src" "$d/$name"
        [ "${4:-}" = with-pub ] && cp "$src.pub" "$d/$name.pub"
        echo "$kind $d/$name" >>"$manifest"
    }
    kg() { ssh-keygen -q -C bench "$@" </dev/null >/dev/null; }
    for i in $(seq 1 10); do kg -t ed25519 -N '' -f "$scratch/ed$i"; done
    for i in 1 2; do kg -t rsa -b 3072 -N '' -f "$scratch/rsa$i"; done
    for i in 3 4; do kg -t rsa -b 3072 -N keycheck-test -f "$scratch/rsa$i"; done
    for i in 1 2 3; do kg -t ecdsa -b 384 -N '' -f "$scratch/ec$i"; done
    for i in 1 2 3 4; do kg -t rsa -b 2048 -m PEM -N '' -f "$scratch/pem$i"; done
    for i in 1 2; do kg -t ecdsa -m PEM -N '' -f "$scratch/pemdef$i"; done
    for i in 1 2; do kg -t ecdsa -m PKCS8 -N keycheck-test -f "$scratch/p8enc$i"; done
    for i in 1 2 3 4; do puttygen -q -t ed25519 -C bench -o "$scratch/ppk3_$i" --new-passphrase /dev/null; done
    for i in 1 2; do
        puttygen -q -t rsa -b 2048 -C bench -o "$scratch/ppk2_$i" --ppk-param version=2 --new-passphrase /dev/null
        puttygen "$scratch/ppk2_$i" -O private-sshcom -o "$scratch/sshcom$i"
    done
    for i in 1 2 3 4; do openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$scratch/tls$i" 2>/dev/null; done
    for i in 1 2 3; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench -days 1 \
            -keyout "$scratch/bk$i" -out "$scratch/bc$i" 2>/dev/null
        cat "$scratch/bk$i" "$scratch/bc$i" >"$scratch/bundle$i"
    done
    for i in 1 2 3; do
        { echo '-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----'
          head -c 600 /dev/urandom | base64 -w 64
          echo '-----END ENCRYPTED COSIGN PRIVATE KEY-----'; } >"$scratch/cosign$i"
    done
    printf 'package tls\n\nconst header = "-----BEGIN RSA PRIVATE KEY-----"\n\nfunc main() {}\n' >"$scratch/quote.go"
    printf '# Keys\n\nPaste it like this:\n\n```\n-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n```\n' >"$scratch/howto.md"

    for i in $(seq 1 10); do
        if [ $((i % 3)) = 0 ]; then place ssh "$scratch/ed$i" id_ed25519 with-pub
        else place ssh "$scratch/ed$i" "deploy_key_$i"; fi
    done
    for i in 1 2 3 4; do place ssh "$scratch/rsa$i" "id_rsa_$i"; done
    for i in 1 2 3; do place ssh "$scratch/ec$i" "server-access-$i" with-pub; done
    for i in 1 2 3 4; do place ssh "$scratch/pem$i" "deploy$i.pem" with-pub; done
    for i in 1 2; do place ssh "$scratch/pemdef$i" "id_ecdsa_old$i"; done
    for i in 1 2; do place ssh "$scratch/p8enc$i" "signing$i.p8" with-pub; done
    for i in 1 2 3 4; do place putty "$scratch/ppk3_$i" "putty$i.ppk"; done
    for i in 1 2; do place putty "$scratch/ppk2_$i" "old$i.ppk"; done
    for i in 1 2; do place sshcom "$scratch/sshcom$i" "tectia$i"; done
    for i in 1 2 3 4; do place decoy "$scratch/tls$i" server.key; done
    for i in 1 2 3; do place decoy "$scratch/bundle$i" "tls-bundle$i.pem"; done
    for i in 1 2 3; do place decoy "$scratch/cosign$i" cosign.key; done
    place decoy "$scratch/quote.go" header.go
    place decoy "$scratch/howto.md" HOWTO-keys.md
    rm -rf "$scratch"
    echo "v1:$files" >"$tree/.complete"
    echo "bench: tree generated in $(($(date +%s) - start)) s" >&2
fi

# --- build --------------------------------------------------------------------------------
(cd "$repo" && cargo build --release --quiet --bin keycheck)
keycheck="$repo/target/release/keycheck"
# The command people run: the home is the tree. `env` keeps hyperfine's -N (no shell).
search_cmd="env HOME=$tree XDG_CONFIG_HOME=$tree/.config $keycheck check --search-home --format json"

# --- same answer? -------------------------------------------------------------------------
mkdir -p "$out"
echo "bench: warming the cache and checking both find the same keys" >&2
rg -l --hidden --no-ignore -- "$PATTERN" "$tree" | sort >"$out/search-rg.txt" || true
$search_cmd >"$out/search-keycheck.json" || true
python3 - "$out/search-keycheck.json" <<'PY' | sort >"$out/search-keycheck.txt"
import json, sys
doc = json.load(open(sys.argv[1]))
for key in doc["keys"]:
    if key["kind"] == "private":
        print(key["path"])
PY
echo "keycheck: $(grep -c . "$out/search-keycheck.txt") private keys, $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["findings"]), "findings,", len(d["errors"]), "errors")' "$out/search-keycheck.json")" >"$out/search-stats.txt"
grep -E '^decoy ' "$manifest" | cut -d' ' -f2- | sort >"$out/search-decoys.txt"
grep -E '^(putty|sshcom) ' "$manifest" | cut -d' ' -f2- | sort >"$out/search-extra.txt"
sort -u <(comm -23 "$out/search-rg.txt" "$out/search-decoys.txt") "$out/search-extra.txt" >"$out/search-expected.txt"
grep -E '^(ssh|putty|sshcom) ' "$manifest" | cut -d' ' -f2- | sort >"$out/search-manifest-keys.txt"
if ! diff -u "$out/search-expected.txt" "$out/search-keycheck.txt" >&2 ||
    ! diff -u "$out/search-manifest-keys.txt" "$out/search-keycheck.txt" >&2; then
    echo "bench: keycheck's keys differ from rg minus decoys plus PuTTY/ssh.com (diff above)" >&2
    exit 1
fi
nkeys=$(wc -l <"$out/search-keycheck.txt")
nrg=$(wc -l <"$out/search-rg.txt")
echo "bench: both agree: keycheck $nkeys keys = rg $nrg files - $(wc -l <"$out/search-decoys.txt") decoys + $(wc -l <"$out/search-extra.txt") PuTTY/ssh.com" >&2
cat "$out/search-stats.txt" >&2

# --- measure ------------------------------------------------------------------------------
# The 2 CPUs are shared with other people's work, so the load changes during a run: time
# the two commands in alternating rounds (hyperfine, 2 runs each per round, after 1
# warm-up) so both see the same conditions, and compare means and medians over all runs.
rounds=$((runs / 2 > 0 ? runs / 2 : 1))
rm -f "$out"/search-round-*.json
for ((i = 1; i <= rounds; i++)); do
    echo "bench: round $i/$rounds" >&2
    # -i: keycheck exits 1 when it finds failing keys, which the tree has on purpose.
    hyperfine -N -i --style none --warmup 1 --runs 2 --export-json "$out/search-round-$i.json" \
        --command-name keycheck "$search_cmd" \
        --command-name ripgrep "rg -l --hidden --no-ignore -- '$PATTERN' $tree"
done
results="$out/search-home-results.txt"
{
    echo "# keycheck home search bench, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
    echo "# $(rg --version | head -1), $(hyperfine --version)"
    echo "# tree: $(find "$tree" -type f | wc -l) files, $(du -sh --apparent-size "$tree" | cut -f1); $nkeys keys found"
    python3 - "$out"/search-round-*.json <<'PY'
import json, statistics, sys
times = {}
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        t = times.setdefault(r["command"], {"wall": [], "user": [], "system": []})
        t["wall"] += r["times"]
        n = len(r["times"])
        t["user"] += [r["user"]] * n
        t["system"] += [r["system"]] * n
print(f"{'':10} {'runs':>4} {'mean s':>8} {'median s':>9} {'min s':>7} {'user s':>7} {'sys s':>7}")
for name in ("keycheck", "ripgrep"):
    t = times[name]
    w = t["wall"]
    print(f"{name:10} {len(w):4} {statistics.mean(w):8.3f} {statistics.median(w):9.3f} {min(w):7.3f} "
          f"{statistics.mean(t['user']):7.3f} {statistics.mean(t['system']):7.3f}")
k, r = times["keycheck"]["wall"], times["ripgrep"]["wall"]
print(f"keycheck/ripgrep wall time: {statistics.mean(k) / statistics.mean(r):.2f}x (means), "
      f"{statistics.median(k) / statistics.median(r):.2f}x (medians), {min(k) / min(r):.2f}x (best runs)")
PY
} >"$results"
cat "$results"
