# Sourced by the packaging scripts: installs the cargo tools they use, at pinned
# versions, when missing. `cargo install` puts them in cargo's bin directory, which
# outlives a checkout, so a machine builds each tool once (cargo-generate-rpm takes
# minutes). They are built unoptimised (`--debug`, a third faster to build) unless the
# third argument is `release`: cargo-generate-rpm compresses the payload itself, and
# unoptimised it takes minutes over the 180 MB unstripped dev binary CI packages.
cargo_tool() { # NAME VERSION [release] (NAME: cargo-SUBCOMMAND)
    local name=$1 version=$2 mode=${3:-debug} have=""
    if command -v "$name" >/dev/null 2>&1; then
        have=$(cargo "${name#cargo-}" --version 2>/dev/null | head -n 1 || true)
    fi
    case "$have" in
    *" $version"*) return 0 ;;
    esac
    echo "installing $name $version (once per machine)" >&2
    local flags=(--quiet --locked)
    [ "$mode" = release ] || flags+=(--debug)
    cargo install "${flags[@]}" "$name@$version"
    command -v "$name" >/dev/null 2>&1 || {
        echo "error: $name was installed but is not on PATH (add cargo's bin directory)" >&2
        return 1
    }
}

# The pinned versions, one place for every script.
CARGO_DENY_VERSION=0.20.2
CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
CARGO_CYCLONEDX_VERSION=0.5.9
CARGO_FUZZ_VERSION=0.13.2

# Every cargo tool CI uses (scripts/test.sh builds them while the tests run).
ci_tools() {
    cargo_tool cargo-deny "$CARGO_DENY_VERSION"
    cargo_tool cargo-deb "$CARGO_DEB_VERSION"
    cargo_tool cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" release
    cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"
    cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"
}
