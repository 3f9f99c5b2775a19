# Helpers the bench scripts share; source it: `. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.

# Returns true if and only if the command exists.
need() { command -v "$1" >/dev/null 2>&1; }

# Installs a Debian package quietly, updating the package lists only when needed.
install() {
    echo "bench: installing $1" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; }
}
