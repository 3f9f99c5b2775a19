"""Writes N synthetic keycheck.report/v1 documents for bench/fleet.sh: REPORTS/DDD/host-N.json,
a few keys and findings each, spread over 100 directories. Deterministic (seeded).

    fleet_gen.py REPORTS N [--sign]

With --sign, each host (a device) also gets its own Ed25519 key, each report F its detached
signature F.sig, and REPORTS/allowed_signers a line per host: what `keycheck report` and
`keycheck report --signer-line` write on each device. The signature is an SSHSIG (OpenSSH's
PROTOCOL.sshsig) in the namespace keycheck-report with SHA-512 over the exact bytes of F, as
`ssh-keygen -Y sign -n keycheck-report` makes it; bench/fleet.sh checks a sample with
`ssh-keygen -Y verify`. Signing needs the `cryptography` package. The reports are the same
bytes with or without --sign (the keys come from their own seeded generator)."""

import base64
import hashlib
import json
import os
import random
import struct
import sys

NAMESPACE = b"keycheck-report"

RULES = [("passphrase-missing", "fail"), ("rsa-below-minimum", "fail"), ("kdf-weak", "warn"),
         ("rsa-below-recommended", "warn"), ("file-permissions", "fail"), ("duplicate-key", "warn"),
         ("agent-lifetime-unbounded", "warn"), ("forward-agent", "warn")]
KEYS = [("ssh-ed25519", 256), ("ssh-rsa", 2048), ("ssh-rsa", 3072), ("ssh-rsa", 4096),
        ("ssh-rsa", 1024), ("ecdsa-sha2-nistp256", 256)]


def report(i, rng):
    host = f"{rng.getrandbits(256):064x}"
    keys, findings = [], []
    for k in range(rng.randint(1, 4)):
        alg, bits = rng.choice(KEYS)
        path = f"/home/user{i}/.ssh/id_{k}"
        keys.append({"path": path, "kind": "private", "format": "openssh", "algorithm": alg,
                     "bits": bits, "encrypted": rng.random() < 0.7, "fingerprint": f"SHA256:{host[:43]}",
                     "comment": f"user{i}@host{i}", "mode": "0600", "owner": 1000})
        keys.append({"path": path + ".pub", "kind": "public", "format": "openssh-public",
                     "algorithm": alg, "bits": bits, "fingerprint": f"SHA256:{host[:43]}"})
        for rule, sev in rng.sample(RULES, rng.choice([0, 0, 1, 1, 2])):
            findings.append({"rule": rule, "severity": sev, "path": path, "fingerprint": None,
                             "message": f"{rule} on {path}", "fix": f"keycheck fix {path}"})
    day = rng.randint(1, 22)
    return {"schema": "keycheck.report/v1",
            "host": {"id": host, "hostname": f"laptop-{i}", "os": "Debian GNU/Linux 12 (bookworm)"},
            "user": {"name": f"user{i}", "uid": 1000},
            "tool": {"name": "keycheck", "version": "0.1.0"},
            "policy": {"digest": "0" * 64, "profile": "laptop"},
            "generated_at": f"2026-11-{day:02}T08:00:00Z",
            "roots": [f"/home/user{i}/.ssh"], "keys": keys, "agents": [], "findings": findings,
            "waived": [], "errors": [],
            "summary": {"keys": len(keys), "fail": sum(f["severity"] == "fail" for f in findings)}}


def ssh_string(b):
    """An SSH wire-format string: uint32 length, then the bytes."""
    return struct.pack(">I", len(b)) + b


class Signer:
    """An Ed25519 device key that signs reports as `ssh-keygen -Y sign -n keycheck-report`."""

    def __init__(self, seed):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        self.key = Ed25519PrivateKey.from_private_bytes(seed)
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_blob = ssh_string(b"ssh-ed25519") + ssh_string(raw)

    def public_key_text(self):
        return "ssh-ed25519 " + base64.b64encode(self.public_blob).decode()

    def signer_line(self, principal):
        """The allowed_signers line, as keycheck's sshsig::signer_line prints it."""
        return f'{principal} namespaces="{NAMESPACE.decode()}" {self.public_key_text()}'

    def sign(self, data):
        """The armored SSHSIG of data (PROTOCOL.sshsig): the Ed25519 signature is over
        "SSHSIG" || string namespace || string reserved || string hash_algorithm ||
        string H(data); the blob is "SSHSIG" || uint32 version 1 || string publickey ||
        string namespace || string reserved || string hash_algorithm || string signature."""
        hash_alg = b"sha512"
        signed = (b"SSHSIG" + ssh_string(NAMESPACE) + ssh_string(b"") + ssh_string(hash_alg)
                  + ssh_string(hashlib.sha512(data).digest()))
        signature = ssh_string(b"ssh-ed25519") + ssh_string(self.key.sign(signed))
        blob = (b"SSHSIG" + struct.pack(">I", 1) + ssh_string(self.public_blob)
                + ssh_string(NAMESPACE) + ssh_string(b"") + ssh_string(hash_alg)
                + ssh_string(signature))
        text = base64.b64encode(blob).decode()
        lines = [text[i:i + 70] for i in range(0, len(text), 70)]
        return "-----BEGIN SSH SIGNATURE-----\n" + "\n".join(lines) + "\n-----END SSH SIGNATURE-----\n"


def main():
    args = sys.argv[1:]
    sign = "--sign" in args
    args = [a for a in args if a != "--sign"]
    if len(args) != 2:
        sys.exit("usage: fleet_gen.py REPORTS N [--sign]")
    out, n = args[0], int(args[1])
    rng = random.Random(42)
    key_rng = random.Random(4242)
    for d in range(100):
        os.makedirs(os.path.join(out, f"{d:03}"), exist_ok=True)
    signers = open(os.path.join(out, "allowed_signers"), "w") if sign else None
    for i in range(n):
        doc = report(i, rng)
        data = json.dumps(doc).encode()
        path = os.path.join(out, f"{i % 100:03}", f"host-{i}.json")
        with open(path, "wb") as f:
            f.write(data)
        if signers:
            signer = Signer(key_rng.randbytes(32))
            with open(path + ".sig", "w") as f:
                f.write(signer.sign(data))
            signers.write(signer.signer_line(doc["host"]["id"]) + "\n")
    if signers:
        signers.close()


if __name__ == "__main__":
    main()
