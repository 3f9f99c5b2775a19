"""Writes N synthetic keycheck.report/v1 documents for bench/fleet.sh: REPORTS/DDD/host-N.json,
a few keys and findings each, spread over 100 directories. Deterministic (seeded)."""

import json
import os
import random
import sys

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


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(42)
    for d in range(100):
        os.makedirs(os.path.join(out, f"{d:03}"), exist_ok=True)
    for i in range(n):
        with open(os.path.join(out, f"{i % 100:03}", f"host-{i}.json"), "w") as f:
            json.dump(report(i, rng), f)


if __name__ == "__main__":
    main()
