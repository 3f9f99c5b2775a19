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
# The session-event tests start private buses (dbus-daemon) and send signals (dbus-send).
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus)
command -v dbus-send >/dev/null 2>&1 || need+=(dbus)
if ((${#need[@]})); then
  echo "installing ${need[*]} (needed by the tests)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for tool in ssh-keygen ssh ssh-agent ssh-add puttygen openssl gpg-agent gpgconf gpg-connect-agent setpriv dbus-daemon dbus-send; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required by the tests and could not be installed" >&2; exit 1; }
done

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
