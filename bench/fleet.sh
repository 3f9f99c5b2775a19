#!/usr/bin/env bash
# keycheck fleet benchmark: N synthetic signed keycheck.report/v1 files (bench/fleet_gen.py
# --sign, default 100000, spread over 100 directories; beside each report F its detached
# signature F.sig, one Ed25519 key per host, and REPORTS/allowed_signers), merged by
#   - keycheck fleet --allowed-signers REPORTS/allowed_signers --format text DIR: every
#     signature verified (the script checks that all N were);
#   - keycheck fleet --accept-unsigned --format text DIR: no verification (the JSON output
#     is made once more, untimed, to check its answer against jq's);
#   - jq: every report slurped (`cat` of all *.json files | jq -s), findings grouped by rule;
#   - DuckDB (Python package, in a venv under bench/out): read_json over */*.json with the
#     columns it needs declared (read_json_auto's schema inference over 100k files ran out
#     of memory here), findings unnested and grouped by rule.
# All four read the same *.json files: jq's find, DuckDB's glob and keycheck's directory
# walk take only *.json, so the .sig files and allowed_signers are read by the verifying
# run only.
# Before timing, the generator's signatures are checked by OpenSSH: `ssh-keygen -Y verify`
# must accept a sample of reports and reject a changed copy. As a reference, the cost of
# verifying the reports one `ssh-keygen -Y verify` at a time (what a shell script would do)
# is timed over VERIFY_SAMPLE (200) reports and extrapolated to N.
# A tool that fails makes the script fail: a failed run is never a time.
# Each is run RUNS times (default 3); wall time and peak RSS (GNU time's %M) are printed,
# the best run of each. Results go to bench/out/fleet/results.txt.
#
# Usage: bench/fleet.sh [N]     Needs cargo, python3, jq, GNU time, ssh-keygen; DuckDB and
# cryptography (for signing) are installed with pip into bench/out/fleet/venv.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out/fleet"
n=${1:-100000}
runs=${RUNS:-3}
verify_sample=${VERIFY_SAMPLE:-200}

. "$here/lib.sh"
need jq || install jq
need ssh-keygen || install openssh-client
[ -x /usr/bin/time ] || install time
mkdir -p "$out"
[ -x "$out/venv/bin/python" ] || python3 -m venv "$out/venv"
py="$out/venv/bin/python"
"$py" -c 'import duckdb, cryptography' 2>/dev/null || "$py" -m pip install -q duckdb cryptography
(cd "$repo" && cargo build --release --quiet --bin keycheck)
keycheck="$repo/target/release/keycheck"

reports="$out/reports-$n-signed"
signers="$reports/allowed_signers"
if [ ! -f "$reports/.complete" ]; then
    echo "bench: generating $n signed reports" >&2
    rm -rf "$reports"
    "$py" "$here/fleet_gen.py" "$reports" "$n" --sign
    touch "$reports/.complete"
fi
du -sh "$reports" | awk '{print "bench: reports and signatures take " $1}' >&2
fail() { echo "bench: $*" >&2; exit 1; }
report_file() { echo "$reports/$(printf '%03d' $(($1 % 100)))/host-$1.json"; }
host_id() { jq -r .host.id "$1"; }

# OpenSSH accepts the generator's signatures, and rejects a changed report.
for i in 0 $((n / 3)) $((n / 2)) $((n - 1)); do
    f=$(report_file "$i")
    ssh-keygen -Y verify -n keycheck-report -f "$signers" -I "$(host_id "$f")" -s "$f.sig" \
        < "$f" > /dev/null || fail "ssh-keygen -Y verify refused the generated signature of $f"
done
f=$(report_file 0)
sed 's/"laptop-0"/"laptop-O"/' "$f" > "$out/changed.json"
cmp -s "$f" "$out/changed.json" && fail "the changed copy of $f is not changed"
if ssh-keygen -Y verify -n keycheck-report -f "$signers" -I "$(host_id "$f")" -s "$f.sig" \
    < "$out/changed.json" > /dev/null 2>&1; then
    fail "ssh-keygen -Y verify accepted a changed copy of $f"
fi
echo "bench: ssh-keygen -Y verify accepts 4 sampled signatures and rejects a changed report" >&2

measure() { # name, command...
    local name=$1; shift
    local best_wall="" best_rss=""
    for _ in $(seq "$runs"); do
        sync
        if ! /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" > "$out/$name.out" 2> "$out/$name.err"; then
            echo "bench: $name failed:" >&2
            tail -n 5 "$out/$name.err" >&2
            exit 1
        fi
        read -r wall rss < <(tail -n 1 "$out/time.txt")
        if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then
            best_wall=$wall best_rss=$rss
        fi
    done
    wall_of[$name]=$best_wall
    printf '%-28s %8.2f s %10.1f MB\n' "$name" "$best_wall" "$(awk "BEGIN{print $best_rss/1024}")" |
        tee -a "$out/results.txt"
}
declare -A wall_of

duck_sql="SELECT f.rule, count(*) AS n, count(DISTINCT host.id) AS hosts
FROM (SELECT host, unnest(findings) AS f FROM read_json('$reports/*/*.json', format='newline_delimited',
      columns={host: 'STRUCT(id VARCHAR)', findings: 'STRUCT(rule VARCHAR, severity VARCHAR)[]'}))
GROUP BY f.rule ORDER BY n DESC"

{
    echo "keycheck fleet over $n signed reports ($(du -sh "$reports" | cut -f1) with signatures), best of $runs, $(date -u +%Y-%m-%dT%H:%MZ)"
    printf '%-28s %10s %13s\n' tool wall peak-RSS
} | tee "$out/results.txt"
measure keycheck-fleet-verified "$keycheck" fleet --allowed-signers "$signers" --format text "$reports"
grep -qx "signatures: $n verified, 0 merged unverified" "$out/keycheck-fleet-verified.out" ||
    fail "keycheck fleet did not verify all $n signatures: $(tail -n 1 "$out/keycheck-fleet-verified.out")"
measure keycheck-fleet-unsigned "$keycheck" fleet --accept-unsigned --format text "$reports"
grep -qx "signatures: 0 verified, $n merged unverified" "$out/keycheck-fleet-unsigned.out" ||
    fail "keycheck fleet --accept-unsigned did not merge $n reports: $(tail -n 1 "$out/keycheck-fleet-unsigned.out")"
measure jq sh -c "find '$reports' -name '*.json' -print0 | xargs -0 cat | jq -s '[.[].findings[]] | group_by(.rule) | map({rule: .[0].rule, n: length})'"
measure duckdb "$py" -c "import duckdb; con = duckdb.connect(config={'memory_limit': '8GB'}); con.sql('SET enable_progress_bar = false'); print(con.sql(\"\"\"$duck_sql\"\"\").fetchall())"

# ssh-keygen -Y verify, one process per report against the same allowed_signers file
# (the host ids are read beforehand, untimed).
: > "$out/verify-sample.txt"
for i in $(seq 0 $((verify_sample - 1))); do
    f=$(report_file $((i * (n / verify_sample))))
    echo "$(host_id "$f") $f" >> "$out/verify-sample.txt"
done
start=$(date +%s.%N)
while read -r id f; do
    ssh-keygen -Y verify -n keycheck-report -f "$signers" -I "$id" -s "$f.sig" < "$f" > /dev/null 2>&1 ||
        fail "ssh-keygen -Y verify refused $f"
done < "$out/verify-sample.txt"
end=$(date +%s.%N)
{
    for k in verified unsigned; do
        awk -v k="$k" -v w="${wall_of[keycheck-fleet-$k]}" -v jq="${wall_of[jq]}" -v d="${wall_of[duckdb]}" \
            'BEGIN{printf "keycheck %-9s %5.1fx faster than jq (target >= 10x), %.2fx DuckDB'"'"'s time (target <= 1.0x)\n", k, jq / w, w / d}'
    done
    awk -v s="$start" -v e="$end" -v m="$verify_sample" -v n="$n" \
        'BEGIN{t = (e - s) / m; printf "ssh-keygen -Y verify, one report at a time: %.1f ms each (%d sampled), %.0f s for %d\n", t * 1000, m, t * n, n}'
} | tee -a "$out/results.txt"

"$keycheck" fleet --accept-unsigned --format json "$reports" > "$out/keycheck-fleet.json"
# The same answer: findings per rule from keycheck's JSON and from jq's.
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
k = json.load(open(f"{out}/keycheck-fleet.json"))
j = {r["rule"]: r["n"] for r in json.load(open(f"{out}/jq.out"))}
kf = {rule: line["findings"] for rule, line in k["rules"].items()}
print("findings per rule agree with jq:" if kf == j else "MISMATCH with jq:", sum(kf.values()), "findings,",
      k["hosts"], "hosts")
sys.exit(kf != j)
PY
