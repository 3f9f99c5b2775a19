#!/usr/bin/env bash
# Builds keycheck's packages from one build: the Debian package (cargo-deb) in
# target/debian/, the RPM (cargo-generate-rpm) in target/generate-rpm/, and a CycloneDX
# SBOM (cargo-cyclonedx) inside each package (/usr/share/doc/keycheck/keycheck.cdx.json)
# and beside it (PACKAGE.cdx.json).
#
# Usage: scripts/package.sh [PROFILE]
#   PROFILE is the cargo profile the binary is built with: `release` (the default, what
#   is shipped) or `dev` (CI's packaging test, which reuses the test build instead of a
#   fat-LTO build of several minutes; cargo-deb warns that it is meant for releases).
# Needs cargo and python3; installs cargo-deb, cargo-generate-rpm and cargo-cyclonedx
# when missing (scripts/cargo-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}

. scripts/cargo-tools.sh
cargo_tool cargo-deb "$CARGO_DEB_VERSION"
cargo_tool cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" release
cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"

# The binary, and where build.rs wrote the man pages and completions (the package id
# from cargo metadata: its form depends on the checkout's directory name).
package_id=$(cargo metadata --locked --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["packages"][0]["id"])')
out_dir=$(cargo build --locked --quiet --profile "$profile" --bin keycheck --message-format=json |
    python3 -c '
import json, sys
dirs = [m["out_dir"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "build-script-executed" and m["package_id"] == sys.argv[1]]
if len(dirs) != 1:
    sys.exit(f"expected one build script output for {sys.argv[1]}, found {dirs}")
print(dirs[0])' "$package_id")
rm -rf target/assets
mkdir -p target/assets
cp -R "$out_dir/man" "$out_dir/completions" target/assets/

# /etc/keycheck/policy.toml, the organisation's file (a conffile): the built-in policy
# with every setting commented out, so that it pins nothing: settings left commented
# follow the built-in policy, also after an upgrade tightens it.
{
    printf '%s\n' \
        "# The organisation's keycheck policy, installed by the keycheck package." \
        "#" \
        "# Every setting below is the built-in policy's, commented out: the built-in value applies" \
        "# to every setting left commented, and a newer keycheck's built-in value when keycheck is" \
        "# upgraded. To decide a setting for the organisation, uncomment it with its [section]" \
        "# line and change it; users' files may only tighten what is set here. Then check the file:" \
        "#     keycheck policy check /etc/keycheck/policy.toml" \
        "#" \
        ""
    sed -e 's/^\([^#]\)/# \1/' policy.toml
} >target/assets/policy.toml

# The SBOM: every crate compiled into the Linux binary, with its licence and checksum.
cargo cyclonedx --format json --target x86_64-unknown-linux-gnu --override-filename keycheck.cdx >/dev/null
mv keycheck.cdx.json target/assets/keycheck.cdx.json

mkdir -p target/debian
if ! cargo deb --no-build --profile "$profile" --output target/debian/ >target/debian/cargo-deb.out 2>target/debian/cargo-deb.err; then
    cat target/debian/cargo-deb.err >&2
    exit 1
fi
deb=$(tail -n 1 target/debian/cargo-deb.out)
[ -f "$deb" ] || { echo "error: cargo deb did not name a package: $deb" >&2; exit 1; }
# The dev binary is 180 MB of debug info (cargo-deb strips it; cargo-generate-rpm does
# not): gzip it in seconds rather than zstd's default level in a minute.
rpm_flags=()
[ "$profile" = release ] || rpm_flags+=(--payload-compress gzip)
cargo generate-rpm --profile "$profile" "${rpm_flags[@]}"
rpm=$(ls -t target/generate-rpm/*.rpm | head -n 1)
for package in "$deb" "$rpm"; do
    cp target/assets/keycheck.cdx.json "${package%.*}.cdx.json"
    echo "$package"
    echo "${package%.*}.cdx.json"
done
