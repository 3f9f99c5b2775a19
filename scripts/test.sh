#!/usr/bin/env bash
# Runs every keycheck test on a fresh machine: installs the real tools the tests use
# when they are missing (Debian/Ubuntu), then formatting, lints and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v puttygen >/dev/null 2>&1 || need+=(putty-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ssh-agent >/dev/null 2>&1 || need+=(openssh-client)
command -v gpg-agent >/dev/null 2>&1 || need+=(gpg-agent)
command -v gpgconf >/dev/null 2>&1 || need+=(gpgconf)
command -v gpg-connect-agent >/dev/null 2>&1 || need+=(gpgconf)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# Session events and desktop notifications: private buses (dbus-daemon, dbus-send), Xvfb and dunst (dunstctl history needs
# busctl), dbus-monitor for urgency, ImageMagick's import for screenshots.
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus)
command -v dbus-send >/dev/null 2>&1 || need+=(dbus)
command -v dbus-monitor >/dev/null 2>&1 || need+=(dbus)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v xauth >/dev/null 2>&1 || need+=(xauth)
command -v dunst >/dev/null 2>&1 || need+=(dunst)
command -v dunstctl >/dev/null 2>&1 || need+=(dunst)
command -v busctl >/dev/null 2>&1 || need+=(systemd)
command -v notify-send >/dev/null 2>&1 || need+=(libnotify-bin)
command -v xwd >/dev/null 2>&1 || need+=(x11-apps)
command -v import >/dev/null 2>&1 || need+=(imagemagick)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
# keycheck.db: the tests run the osquery ATC queries with the real sqlite3 CLI.
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
# Report signing: the device key in a real Secret Service (gnome-keyring on
# dbus-run-session's private bus).
command -v dbus-run-session >/dev/null 2>&1 || need+=(dbus)
command -v gnome-keyring-daemon >/dev/null 2>&1 || need+=(gnome-keyring)
# The fleet's HTML page: rendered by Debian's chromium, headless; ImageMagick's identify
# looks at its screenshot.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v identify >/dev/null 2>&1 || need+=(imagemagick)
# Packaging: the systemd unit through systemd-analyze, the LaunchAgent through plistlib.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Packaging: dpkg builds and installs the .deb, rpm lists the .rpm's contents.
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
command -v rpm >/dev/null 2>&1 || need+=(rpm)
# keycheck fix: the interactive flow is driven in a real terminal by tmux.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if ((${#need[@]})); then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "installing ${need[*]} (needed by the tests)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for tool in ssh-keygen ssh ssh-agent ssh-add puttygen openssl gpg-agent gpgconf gpg-connect-agent setpriv \
  dbus-daemon dbus-send dbus-monitor Xvfb xauth dunst dunstctl busctl notify-send xwd import pgrep \
  sqlite3 dbus-run-session gnome-keyring-daemon chromium identify systemd-analyze python3 dpkg-deb rpm tmux; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required by the tests and could not be installed" >&2; exit 1; }
done

cargo fmt --all -- --check

# The cargo tools of the packaging test and the fuzz smoke, and the fuzz targets, are
# minutes of compiling on a fresh machine: built in the background, at low priority,
# while the lints and the tests run (the tests mostly wait on real tools and timers).
tools_log=$(mktemp)
nice -n 10 bash -c '. scripts/cargo-tools.sh && ci_tools &&
    RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir fuzz --dev -s none' >"$tools_log" 2>&1 &
tools=$!
trap 'kill "$tools" 2>/dev/null || true' EXIT

cargo clippy --locked --all-targets -- -D warnings
cargo test --locked

if ! wait "$tools"; then
    cat "$tools_log" >&2
    echo "error: building the cargo tools or the fuzz targets failed (above)" >&2
    exit 1
fi
trap - EXIT
# The packages: cargo deny, the .deb built, installed, checked and removed with dpkg, the
# .rpm's contents (scripts/package-test.sh; the dev build above is the packaged binary).
bash scripts/package-test.sh dev
# Every fuzz target briefly, from the seeds (scripts/fuzz.sh; long runs: fuzz.sh run).
FUZZ_SMOKE_SECONDS=3 bash scripts/fuzz.sh smoke
