#!/usr/bin/env bash
# keycheck background agent benchmark, on a running `keycheck agent` (release build) with a
# real notification server (dunst on Xvfb, on a private session bus):
#   - change-to-notification latency over CHANGES changes (default 100): each change writes
#     a new unencrypted key into ~/.ssh; the latency runs from just before the write to the
#     Notify call on the bus (dbus-monitor's timestamp). Targets: p50 < 300 ms, p99 < 1 s.
#     The same changes are then made with what a script writer would use instead, an
#     `inotifywait -m ~/.ssh | while read ...; ssh-keygen -y -P '' ... && notify-send`
#     loop, and its latency is reported beside ours;
#   - CPU ticks (utime + stime, /proc/PID/stat) and wake-ups (context switches of all
#     threads, /proc/PID/task/*/status) over an idle minute with no identity loaded and
#     nothing changing on disk; target: 0 ticks beyond the slow poll (default every 60 s);
#   - resident memory (VmRSS, and the peak VmHWM) after the changes; target < 8 MB.
# Results go to bench/out/agent/results.txt.
#
# Usage: bench/agent.sh     Environment: CHANGES (default 100), IDLE (seconds, default 60)
# Needs cargo, python3, ssh-keygen; dbus, xvfb, dunst, libnotify-bin and inotify-tools are
# installed with apt-get when missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out/agent"

. "$here/lib.sh"
need dbus-run-session || install dbus
need xvfb-run || install xvfb
need xauth || install xauth
need dunst || install dunst
need dunstctl || install dunst
need notify-send || install libnotify-bin
need inotifywait || install inotify-tools
for tool in cargo python3 ssh-keygen dbus-monitor dunst; do
    need "$tool" || { echo "bench: $tool is missing" >&2; exit 1; }
done

(cd "$repo" && cargo build --release --quiet --bin keycheck)
mkdir -p "$out"
KEYCHECK="$repo/target/release/keycheck" OUT="$out" \
    dbus-run-session -- xvfb-run -a -s '-screen 0 1024x768x24' \
    python3 "$here/agent_bench.py" | tee "$out/results.txt"
