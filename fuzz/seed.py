#!/usr/bin/env python3
"""Writes the seed corpora of keycheck's fuzz targets: OUT/<target>/<sha1 of the seed>.

Usage: python3 fuzz/seed.py OUT  (run by scripts/fuzz.sh from the repository root)

Seeds come from the committed fixtures (tests/fixtures/ssh, tests/fixtures/policies,
policy.toml) and from keys made here with the real tools (ssh-keygen, openssl, puttygen)
in a scratch directory, every encrypted one with the fixtures' throwaway passphrase
`keycheck-test` and the cheapest KDF parameters each tool allows, so that the targets'
passphrase attempts can succeed. The binary targets get the bytes their input format
wants (a decoded key body, a selector byte in front, ...: see each target's doc
comment). A tool that cannot make one kind of key (a DSA key on a newer OpenSSH) is
skipped with a note; a missing tool is an error.
"""

import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile

PASS = "keycheck-test"
ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "ssh"
POLICIES = ROOT / "tests" / "fixtures" / "policies"
# Must match MESSAGE in fuzz_targets/sshsig_verify.rs.
SSHSIG_MESSAGE = b"keycheck fuzz message\n"
SSH1_MAGIC = b"SSH PRIVATE KEY FILE FORMAT 1.1\n\0"

# key_pem's label and cipher choices, in the target's order.
PEM_LABELS = ["RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY",
              "DSA PRIVATE KEY"]
PEM_CIPHERS = ["AES-128-CBC", "AES-192-CBC", "AES-256-CBC", "DES-EDE3-CBC", "DES-CBC"]

out_dir = None
counts = {}


def seed(target, data):
    """Writes one seed of `target`."""
    if isinstance(data, str):
        data = data.encode()
    d = out_dir / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
    counts[target] = counts.get(target, 0) + 1


def run(*args, stdin=None, check=True):
    return subprocess.run(args, input=stdin, capture_output=True, check=check)


def try_run(note, *args):
    """Runs a key-making command; a refusal (an algorithm this tool version dropped) is
    only noted."""
    r = run(*args, check=False)
    if r.returncode != 0:
        print(f"seed.py: skipped {note}: {r.stderr.decode(errors='replace').strip()[:120]}",
              file=sys.stderr)
        return False
    return True


def ssh_string(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def armor_parts(text):
    """(label, headers dict, decoded body) of each armoured block in `text`: PEM
    (-----BEGIN X-----) and RFC 4716 (---- BEGIN X ----) styles."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^-{4,5} ?BEGIN (.+?) ?-{4,5}$", lines[i].strip())
        if not m:
            i += 1
            continue
        label = m.group(1)
        i += 1
        headers, body = {}, []
        in_headers = True
        while i < len(lines) and not re.match(r"^-{4,5} ?END ", lines[i].strip()):
            line = lines[i].strip()
            if in_headers and ":" in line and not re.fullmatch(r"[A-Za-z0-9+/=]+", line):
                name, value = line.split(":", 1)
                while value.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    value = value[:-1] + lines[i].strip()
                headers[name.strip()] = value.strip()
            elif line:
                in_headers = False
                body.append(line)
            i += 1
        blocks.append((label, headers, base64.b64decode("".join(body) + "===")))
        i += 1
    return blocks


def public_blobs(text):
    """The blobs of the one-line public keys in `text`."""
    blobs = []
    for line in text.splitlines():
        words = line.split()
        for a, b in zip(words, words[1:]):
            if (a.startswith(("ssh-", "ecdsa-", "sk-")) or "@" in a) and b.startswith("AAAA"):
                try:
                    blobs.append(base64.b64decode(b))
                except ValueError:
                    pass
    return blobs


def make_keys(work):
    """Keys of every format keycheck reads, made with the real tools in `work`; returns
    their paths."""
    for tool in ("ssh-keygen", "ssh", "openssl", "puttygen"):
        if shutil.which(tool) is None:
            sys.exit(f"seed.py: {tool} is needed (openssh-client, openssl, putty-tools)")
    made = []

    def keygen(name, *args):
        path = work / name
        if try_run(name, "ssh-keygen", "-q", "-C", f"seed-{name}", "-f", str(path), *args):
            made.append(path)
            if (work / f"{name}.pub").exists():
                made.append(work / f"{name}.pub")
            return path
        return None

    # OpenSSH format, every cipher ssh-keygen writes, one bcrypt round.
    for cipher in ("aes128-ctr", "aes256-ctr", "aes128-cbc", "aes256-cbc", "3des-cbc",
                   "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                   "chacha20-poly1305@openssh.com"):
        keygen(f"ed25519_{cipher.split('@')[0]}", "-t", "ed25519", "-a", "1", "-N", PASS,
               "-Z", cipher)
    rsa = keygen("rsa1024", "-t", "rsa", "-b", "1024", "-N", "")
    keygen("rsa_enc", "-t", "rsa", "-b", "1024", "-a", "1", "-N", PASS)
    ecdsa = {}
    for bits in (256, 384, 521):
        ecdsa[bits] = keygen(f"ecdsa{bits}", "-t", "ecdsa", "-b", str(bits), "-N", "")
        keygen(f"ecdsa{bits}_enc", "-t", "ecdsa", "-b", str(bits), "-a", "1", "-N", PASS)
    dsa = keygen("dsa", "-t", "dsa", "-N", "")
    # PEM and PKCS#8 as ssh-keygen writes them (encrypted PEM: AES-128-CBC, MD5).
    for kind, bits in (("rsa", "1024"), ("ecdsa", "256"), ("dsa", "1024")):
        for fmt in ("PEM", "PKCS8"):
            keygen(f"{kind}_{fmt.lower()}", "-t", kind, "-b", bits, "-m", fmt, "-N", "")
            keygen(f"{kind}_{fmt.lower()}_enc", "-t", kind, "-b", bits, "-m", fmt, "-N", PASS)
    # openssl: legacy PEM with each cipher, PBES2 with one PBKDF2 iteration and with
    # the smallest scrypt, Ed25519 PKCS#8.
    rsa_pem = work / "rsa_pem"
    for cipher in ("aes128", "aes192", "aes256", "des3", "des"):
        path = work / f"openssl_rsa_{cipher}"
        if try_run(path.name, "openssl", "rsa", "-in", str(rsa_pem), "-traditional",
                   f"-{cipher}", "-passout", f"pass:{PASS}", "-out", str(path)):
            made.append(path)
    ec_pem = work / "ecdsa_pem"
    if try_run("openssl_ec_aes256", "openssl", "ec", "-in", str(ec_pem), "-aes256",
               "-passout", f"pass:{PASS}", "-out", str(work / "openssl_ec_aes256")):
        made.append(work / "openssl_ec_aes256")
    for name, extra in (("pbkdf2_sha256", ["-v2", "aes-128-cbc", "-iter", "1"]),
                        ("pbkdf2_sha1", ["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1",
                                         "-iter", "1"]),
                        ("pbkdf2_des3", ["-v2", "des3", "-iter", "1"]),
                        ("scrypt", ["-scrypt", "-scrypt_N", "2", "-scrypt_r", "1",
                                    "-scrypt_p", "1"])):
        path = work / f"pkcs8_{name}"
        if try_run(path.name, "openssl", "pkcs8", "-topk8", "-in", str(rsa_pem), *extra,
                   "-passout", f"pass:{PASS}", "-out", str(path)):
            made.append(path)
    ed_pkcs8 = work / "openssl_ed25519"
    if try_run(ed_pkcs8.name, "openssl", "genpkey", "-algorithm", "ed25519", "-out",
               str(ed_pkcs8)):
        made.append(ed_pkcs8)
    # PuTTY: v2 and v3 (the cheapest Argon2 of each kind), plain and encrypted; ssh.com;
    # SSH-1.
    pass_file = work / "pass"
    pass_file.write_text(PASS)
    for name, src in (("rsa", rsa), ("ecdsa", ecdsa.get(256))):
        if src is None:
            continue
        for label, params, passfile in (
                ("v2", ["--ppk-param", "version=2"], pass_file),
                ("v2_plain", ["--ppk-param", "version=2"], None),
                ("v3_plain", ["--ppk-param", "version=3"], None),
                ("v3_argon2id", ["--ppk-param",
                                 "version=3,kdf=argon2id,memory=8,passes=1,parallelism=1"],
                 pass_file),
                ("v3_argon2i", ["--ppk-param",
                                "version=3,kdf=argon2i,memory=8,passes=1,parallelism=1"],
                 pass_file),
                ("v3_argon2d", ["--ppk-param",
                                "version=3,kdf=argon2d,memory=8,passes=1,parallelism=1"],
                 pass_file)):
            path = work / f"{name}_{label}.ppk"
            args = ["puttygen", str(src), "-O", "private", "-o", str(path), *params]
            args += ["--new-passphrase", str(passfile)] if passfile else []
            if try_run(path.name, *args):
                made.append(path)
    if rsa is not None:
        for label, passfile in (("plain", None), ("enc", pass_file)):
            path = work / f"sshcom_{label}"
            args = ["puttygen", str(rsa), "-O", "private-sshcom", "-o", str(path)]
            args += ["--new-passphrase", str(passfile)] if passfile else []
            if try_run(path.name, *args):
                made.append(path)
    for label, passfile in (("plain", "/dev/null"), ("enc", str(pass_file))):
        path = work / f"rsa1_{label}"
        if try_run(path.name, "puttygen", "-q", "-t", "rsa1", "-b", "1024", "-o", str(path),
                   "--new-passphrase", passfile):
            made.append(path)
    # Certificates: user and host, of several key types, with options.
    ca = keygen("ca", "-t", "ed25519", "-N", "")
    if ca is not None:
        for key, opts in ((rsa, ["-n", "alice,bob", "-O", "force-command=/bin/true",
                                 "-O", "source-address=10.0.0.0/8"]),
                          (ecdsa.get(384), ["-h", "-n", "host.example"]),
                          (dsa, ["-n", "carol", "-V", "-1d:+1w"])):
            if key is None:
                continue
            if try_run(f"{key.name}-cert", "ssh-keygen", "-q", "-s", str(ca), "-I",
                       "seed-cert", *opts, f"{key}.pub"):
                made.append(work / f"{key.name}-cert.pub")
    # RFC 4716 exports.
    for key in (rsa, ecdsa.get(521)):
        if key is None:
            continue
        r = run("ssh-keygen", "-e", "-f", f"{key}.pub", check=False)
        if r.returncode == 0:
            path = work / f"{key.name}.rfc4716"
            path.write_bytes(r.stdout)
            made.append(path)
    return made


def sk_keys():
    """FIDO keys cannot be made without a token: their public blobs and an unencrypted
    OpenSSH private key of each kind, written by hand (PROTOCOL.u2f)."""
    ed_blob = ssh_string("sk-ssh-ed25519@openssh.com") + ssh_string(bytes(range(32))) + \
        ssh_string("ssh:")
    point = b"\x04" + bytes(range(1, 65))
    ec_blob = ssh_string("sk-ecdsa-sha2-nistp256@openssh.com") + ssh_string("nistp256") + \
        ssh_string(point) + ssh_string("ssh:")
    texts = []
    for name, blob, private_fields in (
            ("sk-ssh-ed25519@openssh.com", ed_blob,
             ssh_string(bytes(range(32))) + ssh_string("ssh:")),
            ("sk-ecdsa-sha2-nistp256@openssh.com", ec_blob,
             ssh_string("nistp256") + ssh_string(point) + ssh_string("ssh:"))):
        texts.append(f"{name} {base64.b64encode(blob).decode()} seed-sk\n")
        section = struct.pack(">II", 7, 7) + ssh_string(name) + private_fields + \
            bytes([0x25]) + ssh_string(b"handle") + ssh_string(b"") + ssh_string("seed-sk")
        section += bytes(range(1, 1 + (-len(section)) % 8))
        body = b"openssh-key-v1\0" + ssh_string("none") + ssh_string("none") + \
            ssh_string(b"") + struct.pack(">I", 1) + ssh_string(blob) + ssh_string(section)
        encoded = base64.b64encode(body).decode()
        lines = [encoded[i:i + 70] for i in range(0, len(encoded), 70)]
        texts.append("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) +
                     "\n-----END OPENSSH PRIVATE KEY-----\n")
    return texts


def key_seeds(files):
    """The key targets' seeds from key files' bytes."""
    texts = []
    for data in files:
        seed("key_inspect", data)
        if data.startswith(SSH1_MAGIC):
            seed("key_legacy", b"\0" + data[len(SSH1_MAGIC):])
            continue
        text = data.decode(errors="replace")
        texts.append(text)
        if text.lstrip().startswith("PuTTY-User-Key-File-"):
            seed("key_ppk", data)
            continue
        for label, headers, body in armor_parts(text):
            if label == "OPENSSH PRIVATE KEY":
                seed("key_openssh", body)
            elif label == "SSH2 ENCRYPTED PRIVATE KEY":
                seed("key_legacy", b"\1" + body)
            elif label == "SSH2 PUBLIC KEY":
                seed("key_public", b"\1" + body)
                seed("key_public", b"\2" + data)
            elif label in PEM_LABELS:
                index = PEM_LABELS.index(label)
                dek = headers.get("DEK-Info")
                if dek is None:
                    seed("key_pem", bytes([index]) + body)
                    continue
                cipher, iv = dek.split(",", 1)
                if cipher in PEM_CIPHERS:
                    seed("key_pem", bytes([0x80 | index, PEM_CIPHERS.index(cipher)]) +
                         bytes.fromhex(iv) + body)
                header_text = "".join(f"{k}: {v}\n" for k, v in headers.items())
                seed("key_pem", bytes([0x80 | index, len(PEM_CIPHERS)]) +
                     header_text.encode() + b"\0" + body)
        blobs = public_blobs(text)
        if blobs and "PRIVATE KEY" not in text:
            seed("key_public", b"\2" + data)
        for blob in blobs:
            seed("key_public", b"\0" + blob)
            seed("key_public", b"\1" + blob)
    return texts


def authorized_seeds(texts):
    lines = [line for t in texts for line in t.splitlines()
             if public_blobs(line) and "PRIVATE" not in line]
    options = [
        "",
        "restrict ",
        'command="echo \\"hi\\"",no-pty,no-port-forwarding ',
        'from="10.0.0.0/8,!10.1.*",expiry-time="20300101" ',
        'expiry-time="203001011200Z",permitopen="host:22",permitlisten="localhost:8080" ',
        'environment="A=b",tunnel="1",principals="alice,bob",no-touch-required ',
        "cert-authority,verify-required,restrict,pty,port-forwarding,agent-forwarding ",
        'expiry-time="19991231" ',
    ]
    for i, option in enumerate(options):
        chosen = lines[i::len(options)] or lines[:1]
        seed("key_authorized", "# authorized_keys\n\n" +
             "".join(f"{option}{line}\n" for line in chosen))
    seed("key_authorized", "\r\n".join(lines[:3]) + "\r\n")


def agent_seeds(texts):
    blobs = [b for t in texts for b in public_blobs(t)]
    for n in (0, 1, 3, len(blobs)):
        chosen = blobs[:n]
        body = bytes([12]) + struct.pack(">I", len(chosen))
        for i, blob in enumerate(chosen):
            body += ssh_string(blob) + ssh_string(f"/home/alice/.ssh/key{i}")
        seed("sshagent_reply", body)
    seed("sshagent_reply", bytes([12]) + struct.pack(">I", 1) + ssh_string(blobs[0]) +
         ssh_string(b"\xff\xfe not utf-8"))
    for status in (5, 6, 30, 102):
        seed("sshagent_reply", bytes([status]))
    seed("sshagent_reply", struct.pack(">I", 5) + bytes([12, 0, 0, 0, 0]))


def sshsig_seeds(work, keys):
    """Signatures of the sshsig target's message: by the fixture key (the one the target
    allows) in both hashes and two namespaces, and by other kinds of keys."""
    message = work / "message"
    message.write_bytes(SSHSIG_MESSAGE)
    signer = work / "fixture_ed25519"
    shutil.copy(FIXTURES / "id_ed25519", signer)
    signer.chmod(0o600)
    for key, args in ((signer, ["-n", "keycheck-report"]),
                      (signer, ["-n", "keycheck-report", "-O", "hashalg=sha256"]),
                      (signer, ["-n", "file"]),
                      *((k, ["-n", "keycheck-report"]) for k in keys)):
        sig = pathlib.Path(f"{message}.sig")
        sig.unlink(missing_ok=True)
        if not try_run(f"signature by {key.name}", "ssh-keygen", "-Y", "sign", "-f",
                       str(key), *args, str(message)):
            continue
        text = sig.read_bytes()
        for principal in range(4):
            seed("sshsig_verify", bytes([principal << 1]) + text)
        for _, _, body in armor_parts(text.decode()):
            for principal in range(4):
                seed("sshsig_verify", bytes([principal << 1 | 1]) + body)
    return (FIXTURES / "id_ed25519.pub").read_text().strip()


def allowed_signers_seeds(pub_lines):
    fixture = pub_lines[0]
    seed("allowed_signers", f"fuzz-host {fixture}\n")
    seed("allowed_signers", "# fleet\n\n" + "".join(
        f"host-{i},alias-{i} {line}\n" for i, line in enumerate(pub_lines)))
    seed("allowed_signers", f'a@example.com namespaces="file,keycheck-report" {fixture}\r\n')
    for bad in ('* ', 'h cert-authority ', 'h valid-after="20200101" ', '"h" ', 'h,,i ',
                'h namespaces="x",namespaces="y" ', "h bogus ", 'h namespaces=" '):
        seed("allowed_signers", f"ok {fixture}\n{bad}{fixture}\n")


def policy_seeds():
    texts = [(ROOT / "policy.toml").read_text()]
    texts += [p.read_text() for p in sorted(POLICIES.glob("*/*.toml"))]
    for text in texts:
        seed("policy", text)
    good = [p.read_text() for p in sorted(POLICIES.glob("good/*.toml"))]
    for org in good[:3]:
        for user in good[:3]:
            seed("policy", org + "\0" + user)


def fleet_seeds(work):
    def report(host, at, findings, keys=None, user=None):
        return {
            "schema": "keycheck.report/v1",
            "host": {"id": host, "hostname": f"{host}.example", "os": "Debian GNU/Linux 12"},
            "user": user if user is not None else {"name": "alice", "uid": 1000},
            "tool": {"name": "keycheck", "version": "0.1.0"},
            "generated_at": at,
            "keys": keys if keys is not None else [
                {"kind": "private", "algorithm": "ssh-rsa", "bits": 1024,
                 "path": "/home/alice/.ssh/id_rsa"},
                {"kind": "public", "algorithm": "ssh-ed25519", "bits": 256}],
            "findings": [{"rule": r, "severity": s, "path": "/home/alice/.ssh/id_rsa"}
                         for r, s in findings],
        }
    reports = [
        report("fuzz-host", "2026-11-01T00:00:00Z", [("passphrase-missing", "fail")]),
        report("fuzz-host", "2026-10-01T12:30:00+02:00", [("kdf-weak", "warn")]),
        report("bbbb", "2026-11-22T00:00:00Z", [("rsa-below-minimum", "fail"),
                                                ("kdf-weak", "warn"), ("x", "info")],
               user={"uid": 501}),
        report("cccc", "2020-01-01T00:00:00.5Z", [], keys=[], user={}),
        report("<b>&amp;", "2026-11-22T00:00:00Z", [("a,b", "fail")],
               keys=[{"kind": "private"}, {"kind": "private", "algorithm": "x"}]),
    ]
    for r in reports:
        seed("fleet_report", json.dumps(r, indent=2) + "\n")
    seed("fleet_report", "".join(json.dumps(r) + "\n" for r in reports))
    seed("fleet_report", json.dumps(dict(reports[0], schema="keycheck.report/v2")))
    seed("fleet_report", '{"schema": "keycheck.report/v1", "host": \n\n  \n{}\n')
    # An envelope signed by the key the target allows for fuzz-host, and the same
    # report with its signature refused (another report's bytes).
    data = json.dumps(reports[0]).encode()
    message = work / "report.json"
    message.write_bytes(data)
    signer = work / "fixture_ed25519"
    if signer.exists():
        sig = pathlib.Path(f"{message}.sig")
        sig.unlink(missing_ok=True)
        if try_run("report signature", "ssh-keygen", "-Y", "sign", "-f", str(signer), "-n",
                   "keycheck-report", str(message)):
            signature = sig.read_text()
            good = '{"report": ' + data.decode() + ', "signature": ' + \
                json.dumps(signature) + "}\n"
            bad = json.dumps({"report": reports[1], "signature": signature}) + "\n"
            seed("fleet_report", good)
            seed("fleet_report", good + bad + json.dumps({"report": reports[2]}) + "\n")


SSH_CONFIGS = [
    """Host *
    AddKeysToAgent yes
    ForwardAgent no
    IdentityFile ~/.ssh/id_ed25519

Host work work.example
    HostName work.example.com
    User alice
    AddKeysToAgent confirm 1h30m
    IdentityFile "~/.ssh/work key"
    IdentityAgent ~/.ssh/agent.sock
""",
    """# comment
Include f2 f*
Match host *.example.com user alice
    AddKeysToAgent 2h
Match originalhost !bastion,jump* exec "true"
    ForwardAgent yes
Host bastion !*.internal
    UseKeychain yes
    IdentityFile %d/.ssh/id_%r@%h
""",
    """Host=a b\tc
AddKeysToAgent=ask
Host "quoted host" 'single'
  IdentityFile C:\\\\keys\\ name # trailing comment
""",
]

SSH_G = """host work
hostname work.example.com
user alice
port 22
addkeystoagent confirm 5400
forwardagent no
usekeychain yes
identityfile ~/.ssh/work key
identityfile %d/.ssh/id_%r@%h
identityagent ~/.ssh/agent.sock
"""


def sshconfig_seeds(work):
    for config in SSH_CONFIGS:
        seed("sshconfig", SSH_G + "\0" + config)
        seed("sshconfig", SSH_G + "\0" + config + "\0Host f2\n  AddKeysToAgent no\n"
             + "\0Include f2\nForwardAgent /tmp/sock\n")
        # What the real ssh prints for this configuration.
        path = work / "ssh_config"
        path.write_text(config)
        for host in ("work", "bastion", "keycheck-probe.invalid"):
            r = run("ssh", "-G", "-F", str(path), host, check=False)
            if r.returncode == 0:
                seed("sshconfig", r.stdout.decode() + "\0" + config)
    for value in ("no", "yes", "ask", "confirm", "confirm 600", "3600", "0"):
        seed("sshconfig", f"host h\naddkeystoagent {value}\n\0Host h\n  AddKeysToAgent x\n")
    seed("sshconfig", "/home/a/.ssh/config line 3: Bad configuration option: x\n\0Host h\n")


def main():
    global out_dir
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = pathlib.Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        paths = [p for p in sorted(FIXTURES.iterdir())
                 if p.name not in ("generate.sh", "expected.txt")]
        paths += make_keys(work)
        files = [p.read_bytes() for p in paths] + [t.encode() for t in sk_keys()]
        texts = key_seeds(files)
        authorized_seeds(texts)
        agent_seeds(texts)
        other_signers = [work / n for n in ("rsa1024", "ecdsa256") if (work / n).exists()]
        sshsig_seeds(work, other_signers)
        pub_lines = [(FIXTURES / "id_ed25519.pub").read_text().strip()]
        pub_lines += [line for t in texts for line in t.splitlines()
                      if public_blobs(line) and "cert" not in line and "PRIVATE" not in line]
        allowed_signers_seeds(pub_lines)
        policy_seeds()
        fleet_seeds(work)
        sshconfig_seeds(work)
    print("seeds: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())),
          file=sys.stderr)


if __name__ == "__main__":
    main()
