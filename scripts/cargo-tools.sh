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
