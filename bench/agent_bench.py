"""The measuring half of bench/agent.sh; run it through that script, which provides the
session bus and the X display. Prints a results table on stdout."""

import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

KEYCHECK = os.environ["KEYCHECK"]
CHANGES = int(os.environ.get("CHANGES", "100"))
IDLE = int(os.environ.get("IDLE", "60"))
GAP = 0.4  # seconds between changes, so each is a burst of its own


class Monitor:
    """Notify calls on the session bus, with dbus-monitor's timestamp and app name."""

    def __init__(self):
        self.calls = []  # (unix time, app name)
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["dbus-monitor", "--session",
             "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"],
            stdout=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        pending = None
        for line in self.proc.stdout:
            m = re.match(r"method call time=([0-9.]+) .*member=Notify", line)
            if m:
                pending = float(m.group(1))
                continue
            if pending is not None:
                m = re.match(r'\s+string "(.*)"', line)
                if m:
                    with self.lock:
                        self.calls.append((pending, m.group(1)))
                    pending = None

    def count(self, app):
        with self.lock:
            return sum(1 for _, a in self.calls if a == app)

    def wait_next(self, app, before, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                mine = [t for t, a in self.calls if a == app]
            if len(mine) > before:
                return mine[before]
            time.sleep(0.002)
        return None


def wait_bus_name(name, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:" + name],
            capture_output=True, text=True)
        if "true" in r.stdout:
            return
        time.sleep(0.05)
    sys.exit(f"bench: {name} never appeared on the bus")


def ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wakeups(pid):
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        for line in open(status):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def memory(pid):
    """VmRSS and its peak, and from smaps_rollup what is the process's own: anonymous
    memory and Pss (code pages shared with the page cache counted by share)."""
    out = {}
    for line in open(f"/proc/{pid}/status"):
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = line.split()[1]
    for line in open(f"/proc/{pid}/smaps_rollup"):
        key = line.split(":")[0]
        if key in ("Pss", "Pss_Anon", "Pss_File", "Anonymous"):
            out[key] = line.split()[1]
    return out


def percentile(values, p):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def make_keys(where, n):
    paths = []
    for i in range(n):
        path = os.path.join(where, f"k{i:03}")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"bench {i}",
                        "-f", path], check=True, stdin=subprocess.DEVNULL)
        paths.append(path)
    return paths


def run_changes(monitor, app, ssh, keys, prefix):
    latencies, missed = [], 0
    for i, key in enumerate(keys):
        before = monitor.count(app)
        data = open(key, "rb").read()
        t0 = time.time()
        fd = os.open(os.path.join(ssh, f"{prefix}{i:03}"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, data)
        os.close(fd)
        t = monitor.wait_next(app, before)
        if t is None:
            missed += 1
        else:
            latencies.append((t - t0) * 1000)
        # Critical notifications stay on screen until dismissed, and a server drawing a
        # hundred of them slows down: dismiss each (outside the timed part), as a person would.
        subprocess.run(["dunstctl", "close-all"], capture_output=True)
        time.sleep(GAP)
    return latencies, missed


def main():
    scratch = tempfile.mkdtemp(prefix="keycheck-bench-")
    home = os.path.join(scratch, "home")
    ssh = os.path.join(home, ".ssh")
    os.makedirs(ssh, mode=0o700)
    keys_dir = os.path.join(scratch, "keys")
    os.makedirs(keys_dir)
    keys = make_keys(keys_dir, CHANGES)
    dunst = subprocess.Popen(["dunst"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_bus_name("org.freedesktop.Notifications")
    monitor = Monitor()
    time.sleep(0.3)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               KEYCHECK_STATE_DIR=os.path.join(scratch, "state"),
               KEYCHECK_ORG_POLICY=os.path.join(scratch, "no-org-policy.toml"))
    env.pop("SSH_AUTH_SOCK", None)
    agent = subprocess.Popen([KEYCHECK, "agent"] + os.environ.get("AGENT_ARGS", "").split(), env=env, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(scratch, "agent.log"), "w"))
    state = os.path.join(scratch, "state", "agent-state.json")
    deadline = time.time() + 20
    while not os.path.exists(state):
        if time.time() > deadline:
            sys.exit("bench: the agent wrote no state")
        time.sleep(0.02)
    time.sleep(0.5)
    start_mem = memory(agent.pid)

    ours, our_missed = run_changes(monitor, "keycheck", ssh, keys, "id_new_")
    mem = memory(agent.pid)

    # Idle: nothing changes, no identity loaded.
    time.sleep(2)
    t0, w0 = ticks(agent.pid), wakeups(agent.pid)
    time.sleep(IDLE)
    t1, w1 = ticks(agent.pid), wakeups(agent.pid)
    agent.terminate()
    agent.wait(timeout=5)

    # The alternative: an inotify loop around ssh-keygen and notify-send.
    for f in os.listdir(ssh):
        os.remove(os.path.join(ssh, f))
    script = ("inotifywait -q -m -e close_write,moved_to --format '%w%f' \"$1\" | "
              "while read -r f; do ssh-keygen -y -P '' -f \"$f\" >/dev/null 2>&1 && "
              "notify-send -a inotify-script 'SSH key without a passphrase' \"$f\"; done")
    loop = subprocess.Popen(["bash", "-c", script, "bench", ssh], start_new_session=True)
    time.sleep(0.5)
    theirs, their_missed = run_changes(monitor, "inotify-script", ssh, keys, "id_alt_")
    os.killpg(loop.pid, 15)
    dunst.terminate()
    monitor.proc.terminate()
    shutil.rmtree(scratch, ignore_errors=True)

    hz = os.sysconf("SC_CLK_TCK")
    p50, p99 = percentile(ours, 50), percentile(ours, 99)
    a50, a99 = percentile(theirs, 50), percentile(theirs, 99)
    print(f"changes: {CHANGES} (one new unencrypted key each, {GAP}s apart)")
    print("| | keycheck agent | inotifywait + ssh-keygen + notify-send loop | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| p50 latency | {p50:.0f} ms | {a50:.0f} ms | {p50 / a50:.2f}x |")
    print(f"| p99 latency | {p99:.0f} ms | {a99:.0f} ms | {p99 / a99:.2f}x |")
    print(f"| mean latency | {statistics.mean(ours):.0f} ms | {statistics.mean(theirs):.0f} ms | |")
    print(f"| missed | {our_missed} | {their_missed} | |")
    print(f"idle {IDLE} s (no identity, no change): {t1 - t0} CPU ticks ({hz}/s), "
          f"{w1 - w0} wake-ups (context switches, all threads)")
    print(f"memory after the changes: VmRSS {mem['VmRSS']} kB (peak {mem['VmHWM']} kB), of which "
          f"anonymous {mem['Anonymous']} kB; Pss {mem['Pss']} kB (anon {mem['Pss_Anon']}, "
          f"file {mem['Pss_File']}); {mem['Threads']} threads")
    print(f"memory at start (before any change): VmRSS {start_mem['VmRSS']} kB, "
          f"anonymous {start_mem['Anonymous']} kB")
    json.dump({"latency_ms": ours, "alternative_latency_ms": theirs,
               "idle_ticks": t1 - t0, "idle_wakeups": w1 - w0, "memory_kb": mem},
              open(os.path.join(os.environ["OUT"], "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
