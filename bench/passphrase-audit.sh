#!/usr/bin/env bash
# keycheck benchmark: the common-passphrase audit (`--try-common-passphrases`), time per
# key, against what a user would do instead: a shell loop over the same list,
#
#   { echo; grep -v '^#' data/common-passphrases.txt; } | while IFS= read -r p; do
#       ssh-keygen -y -P "$p" -f KEY </dev/null >/dev/null 2>&1 && break
#   done
#
# (for a PuTTY key: `puttygen KEY -O text --old-passphrase FILE`, as ssh-keygen
# cannot read PPK). Every key gets a strong random passphrase, so both run through the
# whole list: the worst case, and the time the audit needs to say "not found".
#
# Keys (made fresh in bench/out/passphrase-audit/ with the real tools):
#   ed25519-a16    ssh-keygen -t ed25519 (aes256-ctr, bcrypt 16 rounds: the default)
#   ed25519-a100   ssh-keygen -t ed25519 -a 100
#   rsa3072-pem    ssh-keygen -t rsa -b 3072 -m PEM (AES-128-CBC, EVP_BytesToKey MD5)
#   ecdsa-pkcs8    ssh-keygen -t ecdsa -m PKCS8 (PBES2, PBKDF2-SHA256 2048, AES-128-CBC)
#   ed25519-ppk3   puttygen -t ed25519 (PPK v3, Argon2id with puttygen's default cost)
#
# keycheck runs the release build of examples/passphrase_audit.rs (threads: all cores, no
# time budget). The shell loop is sequential, as people write it; for keys where it
# would take longer than SHELL_MAX_S seconds (default 120) it runs over the first
# SHELL_SAMPLE passphrases (default 60) and the full-list time is extrapolated (marked ~).
#
# Usage: bench/passphrase-audit.sh        Needs: ssh-keygen, puttygen, cargo.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out/passphrase-audit"
SHELL_MAX_S=${SHELL_MAX_S:-120}
SHELL_SAMPLE=${SHELL_SAMPLE:-60}

for tool in ssh-keygen puttygen cargo; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench: $tool missing (apt-get install openssh-client putty-tools)" >&2
        exit 1
    }
done

rm -rf "$out"
mkdir -p "$out"
chmod 700 "$out"
list="$out/list.txt"
{ echo; grep -v '^#' "$repo/data/common-passphrases.txt"; } >"$list"
n=$(wc -l <"$list")

pass=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$pass" >"$out/pass"
kg() { ssh-keygen -q -N "$pass" -C bench "$@" </dev/null >/dev/null; }
kg -t ed25519 -f "$out/ed25519-a16"
kg -t ed25519 -a 100 -f "$out/ed25519-a100"
kg -t rsa -b 3072 -m PEM -f "$out/rsa3072-pem"
kg -t ecdsa -b 256 -m PKCS8 -f "$out/ecdsa-pkcs8"
puttygen -q -t ed25519 -C bench -o "$out/ed25519-ppk3" --new-passphrase "$out/pass"
rm -f "$out/pass"
keys=(ed25519-a16 ed25519-a100 rsa3072-pem ecdsa-pkcs8 ed25519-ppk3)

(cd "$repo" && cargo build --release --quiet --example passphrase_audit)
audit="$repo/target/release/examples/passphrase_audit"

now() { date +%s.%N; }

# One attempt of the user's loop: exit 0 if and only if the passphrase opens the key.
attempt() {
    local key=$1 p=$2
    case $key in
        # -O text needs the private half (-O public-openssh would not even decrypt).
        *ppk*) puttygen "$key" -O text --old-passphrase <(printf '%s' "$p") >/dev/null 2>&1 ;;
        *) ssh-keygen -y -P "$p" -f "$key" </dev/null >/dev/null 2>&1 ;;
    esac
}

# Seconds for the loop over the first $2 passphrases of the list.
shell_loop() {
    local key=$1 count=$2 start p
    start=$(now)
    while IFS= read -r p; do
        if attempt "$key" "$p"; then
            echo "bench: a list passphrase opened $key?" >&2
            return 1
        fi
    done < <(head -n "$count" "$list")
    echo "$(now) - $start" | bc -l
}

results="$out/results.txt"
{
    echo "# keycheck passphrase-audit bench, $(date -u +%Y-%m-%dT%H:%MZ), list of $n (empty first)"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
    echo "# $(ssh -V 2>&1), $(puttygen --version | head -1)"
    printf '%-13s %-46s %11s %11s %12s %9s\n' key protection keycheck_s ms/attempt shell_loop_s ratio
} >"$results"

for k in "${keys[@]}"; do
    path="$out/$k"
    echo "== $k ==" >&2
    IFS=$'\t' read -r _ protection outcome secs per <<<"$("$audit" --budget 100000 "$path")"
    case $outcome in
        "not-found ($n tried)") ;;
        *) echo "bench: $k: keycheck says \"$outcome\", expected not-found ($n tried)" >&2; exit 1 ;;
    esac
    # Time one sample attempt to decide between the full loop and an extrapolation.
    probe=$(shell_loop "$path" 5)
    if [ "$(echo "$probe / 5 * $n > $SHELL_MAX_S" | bc -l)" = 1 ]; then
        sample=$(shell_loop "$path" "$SHELL_SAMPLE")
        shell=$(echo "$sample * $n / $SHELL_SAMPLE" | bc -l)
        mark="~"
    else
        shell=$(shell_loop "$path" "$n")
        mark=" "
    fi
    awk -v k="$k" -v p="$protection" -v s="$secs" -v per="$per" -v sh="$shell" -v m="$mark" \
        'BEGIN { printf "%-13s %-46s %11.3f %11s %1s%11.2f %8.1fx\n", k, p, s, per, m, sh, sh / s }' \
        >>"$results"
done

echo
cat "$results"
echo "(~ = shell loop timed over the first $SHELL_SAMPLE passphrases and scaled to $n)"
