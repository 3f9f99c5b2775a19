#!/usr/bin/env bash
# CI's packaging test, on the machine it runs on (as root, or with sudo):
#   - supply chain: `cargo deny check licenses bans sources` (deny.toml);
#   - builds the .deb and .rpm with their SBOMs (scripts/package.sh, PROFILE as given,
#     default dev: the test build's binary);
#   - installs the .deb with dpkg -i, checks every file is where the package says and
#     unchanged (dpkg --verify), runs the installed `keycheck --version` and `keycheck
#     check` on a generated key directory, checks the user unit is enabled for every
#     user, then removes (dpkg -r) and purges (dpkg --purge) it and checks nothing is
#     left but what Debian policy keeps (the conffile, until the purge);
#   - lists the .rpm's contents with `rpm -qpl` and checks them.
# Ends with "package: N passed, N failed"; exits 1 if any check failed.
#
# Usage: scripts/package-test.sh [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dev}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

passed=0
failed=0
check() { # WHAT COMMAND...: one check, its outcome counted
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok: $what"
    else
        failed=$((failed + 1))
        echo "FAILED: $what" >&2
    fi
}

. scripts/cargo-tools.sh
cargo_tool cargo-deny "$CARGO_DENY_VERSION"
check "cargo deny: licences, bans and sources (deny.toml)" \
    cargo deny --log-level error check licenses bans sources

mapfile -t built < <(scripts/package.sh "$profile")
deb=${built[0]}
rpm=${built[2]}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What the package says it installs, and what it must install.
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' | grep -v '^/\?$' | sort >"$work/deb-files"
expected=(
    /usr/bin/keycheck
    /etc/keycheck/policy.toml
    /usr/lib/systemd/user/keycheck-agent.service
    /usr/share/man/man1/keycheck.1.gz
    /usr/share/man/man1/keycheck-check.1.gz
    /usr/share/man/man1/keycheck-fleet.1.gz
    /usr/share/bash-completion/completions/keycheck
    /usr/share/zsh/vendor-completions/_keycheck
    /usr/share/fish/vendor_completions.d/keycheck.fish
    /usr/share/keycheck/osquery/keycheck.atc.json
    /usr/share/keycheck/osquery/fleet-policies.yml
    /usr/share/doc/keycheck/keycheck.cdx.json
    /usr/share/doc/keycheck/copyright
)
lists_all() { # LISTING PATH...: every PATH is in LISTING
    local listing=$1 missing=0
    shift
    for f in "$@"; do
        grep -qxF "$f" "$listing" || { echo "  not in the package: $f" >&2; missing=1; }
    done
    return "$missing"
}
check "the .deb holds the binary, policy, unit, man pages, completions, osquery files and SBOM" \
    lists_all "$work/deb-files" "${expected[@]}"
check "the .deb marks /etc/keycheck/policy.toml as a conffile" \
    sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/keycheck/policy.toml"
sbom_ok() { # FILE: a CycloneDX JSON document that lists keycheck's crates
    python3 - "$1" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
names = {c["name"] for c in bom.get("components", [])}
assert bom["bomFormat"] == "CycloneDX", bom.get("bomFormat")
assert bom["metadata"]["component"]["name"] == "keycheck", bom["metadata"]["component"]
missing = {"ssh-key", "rusqlite", "zeroize", "clap"} - names
assert not missing, f"components missing: {missing}"
PY
}
check "the SBOM beside the .deb is CycloneDX and lists the crates" sbom_ok "${deb%.*}.cdx.json"

# Install.
$sudo dpkg --purge keycheck >/dev/null 2>&1 || true
check "dpkg -i installs the package" $sudo dpkg -i "$deb"
installed() { # every file the package lists exists, and dpkg --verify finds none changed
    local missing=0
    while read -r f; do
        [ -e "$f" ] || [ -L "$f" ] || { echo "  missing after install: $f" >&2; missing=1; }
    done <"$work/deb-files"
    [ -z "$(dpkg --verify keycheck)" ] || { dpkg --verify keycheck >&2; missing=1; }
    return "$missing"
}
check "every file is where the package says, unchanged" installed
version_ok() {
    local v
    v=$(/usr/bin/keycheck --version)
    echo "  $v"
    [[ $v =~ ^keycheck\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{12}\)$ ]]
}
check "the installed keycheck --version names the version and commit" version_ok
installed_check() { # the installed binary and policy judge generated keys
    local home=$work/home
    mkdir -p -m 700 "$home/.ssh"
    ssh-keygen -q -t ed25519 -a 100 -N 'a long test passphrase' -C good -f "$home/.ssh/id_ed25519"
    HOME=$home /usr/bin/keycheck check --format json >"$work/good.json" ||
        { echo "  a passphrase-protected Ed25519 key did not pass" >&2; return 1; }
    ssh-keygen -q -t ed25519 -N '' -C bare -f "$home/.ssh/id_bare"
    local rc=0
    HOME=$home /usr/bin/keycheck check --format json >"$work/bad.json" || rc=$?
    [ "$rc" -eq 1 ] || { echo "  an unencrypted key: exit $rc, not 1" >&2; return 1; }
    grep -q '"passphrase-missing"' "$work/bad.json" ||
        { echo "  no passphrase-missing finding" >&2; return 1; }
}
check "the installed /etc/keycheck/policy.toml is valid and pins nothing" \
    sh -c '/usr/bin/keycheck policy check /etc/keycheck/policy.toml && ! grep -qv "^#\|^$" /etc/keycheck/policy.toml'
check "the installed keycheck check judges a generated key directory" installed_check
wants=/etc/systemd/user/default.target.wants/keycheck-agent.service
check "the user unit is enabled for every user ($wants)" \
    test "$(readlink "$wants")" = /usr/lib/systemd/user/keycheck-agent.service
check "systemctl --global is-enabled says enabled" \
    test "$(systemctl --global is-enabled keycheck-agent.service 2>/dev/null)" = enabled

# Remove: only the conffile stays; purge: nothing stays.
check "dpkg -r removes the package" $sudo dpkg -r keycheck
left_after() { # STAGE ALLOWED...: which of the package's paths remain, beyond ALLOWED
    local stage=$1 left=0
    shift
    while read -r f; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        [ -d "$f" ] && [ ! -L "$f" ] && [ -n "$(ls -A "$f" 2>/dev/null)" ] && continue # shared dirs in use
        [ -d "$f" ] && [ ! -L "$f" ] && dpkg -S "$f" >/dev/null 2>&1 && continue        # other packages' dirs
        case " $* " in *" $f "*) continue ;; esac
        echo "  left after $stage: $f" >&2
        left=1
    done <"$work/deb-files"
    [ ! -e "$wants" ] || { echo "  left after $stage: $wants" >&2; left=1; }
    return "$left"
}
check "after dpkg -r nothing is left but the conffile" left_after "dpkg -r" /etc/keycheck/policy.toml /etc/keycheck
check "after dpkg -r the conffile is kept" test -f /etc/keycheck/policy.toml
check "dpkg --purge purges the package" $sudo dpkg --purge keycheck
check "after dpkg --purge nothing is left" left_after "dpkg --purge"
check "after dpkg --purge /etc/keycheck is gone" test ! -e /etc/keycheck
check "after dpkg --purge dpkg no longer knows the package" \
    sh -c '! dpkg -s keycheck >/dev/null 2>&1'

# The RPM: its contents.
rpm -qpl "$rpm" 2>/dev/null | sort >"$work/rpm-files"
rpm_expected=(
    /usr/bin/keycheck
    /etc/keycheck/policy.toml
    /usr/lib/systemd/user/keycheck-agent.service
    /usr/share/man/man1/keycheck.1
    /usr/share/bash-completion/completions/keycheck
    /usr/share/zsh/site-functions/_keycheck
    /usr/share/fish/vendor_completions.d/keycheck.fish
    /usr/share/keycheck/osquery/keycheck.atc.json
    /usr/share/keycheck/osquery/fleet-policies.yml
    /usr/share/doc/keycheck/keycheck.cdx.json
)
check "rpm -qpl lists the same contents" lists_all "$work/rpm-files" "${rpm_expected[@]}"
check "the .rpm marks /etc/keycheck/policy.toml as config(noreplace)" \
    sh -c "rpm -qpc '$rpm' 2>/dev/null | grep -qx /etc/keycheck/policy.toml"
check "the .rpm enables the unit for every user after install" \
    sh -c "rpm -qp --scripts '$rpm' 2>/dev/null | grep -q 'systemctl --global enable keycheck-agent.service'"
check "the SBOM beside the .rpm is CycloneDX and lists the crates" sbom_ok "${rpm%.*}.cdx.json"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
