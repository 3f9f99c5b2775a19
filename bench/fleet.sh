#!/usr/bin/env bash
# keycheck fleet benchmark: N synthetic keycheck.report/v1 files (bench/fleet_gen.py,
# default 100000, spread over 100 directories), merged by
#   - keycheck fleet --accept-unsigned --format text DIR (release build; the JSON output is
#     made once more, untimed, to check its answer against jq's);
#   - jq: every report slurped (`cat` of all files | jq -s), findings grouped by rule;
#   - DuckDB (Python package, in a venv under bench/out): read_json over the files with the
#     columns it needs declared (read_json_auto's schema inference over 100k files ran out
#     of memory here), findings unnested and grouped by rule.
# A tool that fails makes the script fail: a failed run is never a time.
# Each is run RUNS times (default 3); wall time and peak RSS (GNU time's %M) are printed,
# the best run of each. Results go to bench/out/fleet/results.txt.
#
# Usage: bench/fleet.sh [N]     Needs cargo, python3, jq, GNU time; DuckDB is installed
# with pip into bench/out/fleet/venv.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out/fleet"
n=${1:-100000}
runs=${RUNS:-3}

. "$here/lib.sh"
need jq || install jq
[ -x /usr/bin/time ] || install time
mkdir -p "$out"
if [ ! -x "$out/venv/bin/python" ]; then
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install -q duckdb
fi
(cd "$repo" && cargo build --release --quiet --bin keycheck)
keycheck="$repo/target/release/keycheck"

reports="$out/reports-$n"
if [ ! -d "$reports" ]; then
    echo "bench: generating $n reports" >&2
    python3 "$here/fleet_gen.py" "$reports" "$n"
fi
du -sh "$reports" | awk '{print "bench: reports take " $1}' >&2

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
    printf '%-28s %8.2f s %10.1f MB\n' "$name" "$best_wall" "$(awk "BEGIN{print $best_rss/1024}")"
}

duck_sql="SELECT f.rule, count(*) AS n, count(DISTINCT host.id) AS hosts
FROM (SELECT host, unnest(findings) AS f FROM read_json('$reports/*/*.json', format='newline_delimited',
      columns={host: 'STRUCT(id VARCHAR)', findings: 'STRUCT(rule VARCHAR, severity VARCHAR)[]'}))
GROUP BY f.rule ORDER BY n DESC"

{
    echo "keycheck fleet over $n reports ($(du -sh "$reports" | cut -f1)), best of $runs, $(date -u +%Y-%m-%dT%H:%MZ)"
    printf '%-28s %10s %13s\n' tool wall peak-RSS
    measure keycheck-fleet "$keycheck" fleet --accept-unsigned --format text "$reports"
    measure jq sh -c "find '$reports' -name '*.json' -print0 | xargs -0 cat | jq -s '[.[].findings[]] | group_by(.rule) | map({rule: .[0].rule, n: length})'"
    measure duckdb "$out/venv/bin/python" -c "import duckdb; con = duckdb.connect(config={'memory_limit': '8GB'}); con.sql('SET enable_progress_bar = false'); print(con.sql(\"\"\"$duck_sql\"\"\").fetchall())"
} | tee "$out/results.txt"
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
PY
