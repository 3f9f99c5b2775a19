#!/usr/bin/env bash
# Fuzzes keycheck's parsers with cargo-fuzz (libFuzzer): the targets in fuzz/fuzz_targets,
# one per parser entry point (fuzz/Cargo.toml lists them).
#
#   scripts/fuzz.sh smoke                    build every target, run each for a few seconds (CI)
#   scripts/fuzz.sh run SECONDS [TARGET...]  run each target (default: all) for SECONDS
#   scripts/fuzz.sh list                     the targets
#
# The toolchain is stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass the -Z flags it
# needs (sanitizer coverage, ASan). cargo-fuzz itself is installed at a pinned version
# when missing (scripts/cargo-tools.sh).
#
# Builds: `run` builds optimised with AddressSanitizer and debug assertions (cargo-fuzz's
# default, the best bug-finding per second). `smoke` builds `--dev -s none` (unoptimised
# but for the KDF and hash crates, debug assertions and overflow checks on, no ASan):
# keycheck forbids unsafe code, so ASan finds little there that a panic would not, and
# the smoke's time goes into building. Measured on the 2-core machine, one cargo job,
# another fuzzer running: a cold smoke 5.5 min (build 233 s, the 13 targets 99 s); after a
# change to keycheck 2.3 min; nothing changed 1.4 min. A cold optimised ASan build took
# 18.6 min under the same load, an opt-level 1 dev build 8.3.
#
# Corpora: seeds are written on every run by fuzz/seed.py (from tests/fixtures and keys
# made with ssh-keygen, openssl and puttygen) into a temporary directory; what `run` adds
# goes to fuzz/corpus/TARGET (kept between runs, not committed; `smoke` starts from the
# seeds alone each time). A crash, a timeout or an out-of-memory in any target makes the
# script exit non-zero once every target ran, with the input's path
# (fuzz/artifacts/TARGET/...); reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run
# --fuzz-dir fuzz TARGET PATH` (add `--dev -s none` for a crash in the smoke), fix the
# parser and keep the input as a test in tests/fuzz_regressions.rs.
#
# Environment: FUZZ_SMOKE_SECONDS (default 5) per target in smoke; FUZZ_RSS_MB (default
# 2048) and FUZZ_TIMEOUT (seconds one input may take, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export RUSTC_BOOTSTRAP=1

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

mode=${1:-}
[ -n "$mode" ] || usage
shift

# shellcheck source=scripts/cargo-tools.sh
source scripts/cargo-tools.sh
cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"
command -v python3 >/dev/null 2>&1 || { echo "error: fuzz.sh needs python3 (fuzz/seed.py)" >&2; exit 1; }

mapfile -t all_targets < <(cargo fuzz list --fuzz-dir fuzz)
((${#all_targets[@]})) || { echo "error: cargo fuzz list found no targets" >&2; exit 1; }

case "$mode" in
list)
    printf '%s\n' "${all_targets[@]}"
    exit 0
    ;;
smoke)
    seconds=${FUZZ_SMOKE_SECONDS:-5}
    build=(--dev -s none)
    targets=("${all_targets[@]}")
    ;;
run)
    seconds=${1:-}
    [[ "$seconds" =~ ^[0-9]+$ ]] || usage
    shift
    build=(-O)
    targets=("$@")
    ((${#targets[@]})) || targets=("${all_targets[@]}")
    for t in "${targets[@]}"; do
        printf '%s\n' "${all_targets[@]}" | grep -qx -- "$t" || {
            echo "error: no fuzz target $t (scripts/fuzz.sh list)" >&2
            exit 2
        }
    done
    ;;
*) usage ;;
esac

start=$(date +%s)
echo "fuzz: building ${#targets[@]} targets (cargo fuzz build ${build[*]})" >&2
if ! cargo fuzz build --fuzz-dir fuzz "${build[@]}"; then
    echo "error: the fuzz targets do not build" >&2
    exit 1
fi
built=$(date +%s)
# The binaries, run directly: `cargo fuzz run` would check the build again for each.
profile=release
[ "$mode" = smoke ] && profile=debug
bin=$root/fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/$profile

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
seeds=$logs/seeds
python3 fuzz/seed.py "$seeds"
failed=()
summary=()
for t in "${targets[@]}"; do
    corpus=$root/fuzz/corpus/$t
    if [ "$mode" = smoke ]; then
        # The seeds and what a few seconds add, not the corpus long runs grew here (its
        # thousands of inputs would take minutes to replay in the unoptimised build).
        corpus=$root/fuzz/target/smoke-corpus/$t
        rm -rf "$corpus"
    fi
    mkdir -p "$corpus" "$root/fuzz/artifacts/$t" "$seeds/$t"
    log="$logs/$t.log"
    echo "fuzz: $t for ${seconds}s" >&2
    status=0
    # -print_final_stats: stat::number_of_executed_units. -timeout: one input over it is a
    # hang. -rss_limit_mb: a run over it is an out-of-memory. -max_len: reports and
    # policies are text of a few KB; longer inputs only slow the search.
    "$bin/$t" "$corpus" "$seeds/$t" \
        -max_total_time="$seconds" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -max_len=16384 -close_fd_mask=1 \
        -artifact_prefix="$root/fuzz/artifacts/$t/" >"$log" 2>&1 || status=$?
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    summary+=("$(printf '%-16s %12s executions in %ss (slowest input %ss, peak RSS %s MB)' \
        "$t" "$(stat number_of_executed_units)" "$seconds" "$(stat slowest_unit_time_sec)" \
        "$(stat peak_rss_mb)")")
    if ((status != 0)); then
        failed+=("$t")
        echo "error: fuzz target $t failed (exit $status):" >&2
        grep -E -A 12 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|==ERROR|deadly signal" "$log" \
            | head -n 40 >&2 || tail -n 40 "$log" >&2
        sed -n 's/.*Test unit written to \(.*\)$/crash input: \1/p' "$log" >&2
    fi
done
end=$(date +%s)

echo "fuzz: ${#targets[@]} targets, build $((built - start))s, fuzzing $((end - built))s" >&2
printf '%s\n' "${summary[@]}" >&2
if ((${#failed[@]})); then
    echo "error: fuzz targets failed: ${failed[*]}" >&2
    exit 1
fi
