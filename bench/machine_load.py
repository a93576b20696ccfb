"""Machine-load readings shared by the bench scripts: the two cores are shared, so every measurement
records the load before it and the cores other processes used during it. Also the scripts' common
--json output."""
import datetime
import json
import os
import resource
import time


def _proc_stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    v += [0] * (8 - len(v))
    idle = v[3] + v[4]              # idle + iowait
    steal = v[7]
    total = sum(v[:8])              # user nice system idle iowait irq softirq steal (guest is inside user)
    return idle, steal, total


def _proc_cpu() -> dict:
    """pid -> (comm, utime+stime ticks) of every process."""
    out = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    s = f.read()
                rest = s[s.rindex(")") + 2:].split()
                out[pid] = (s[s.index("(") + 1:s.rindex(")")], int(rest[11]) + int(rest[12]))
            except (OSError, ValueError, IndexError):
                pass
    return out


def cpu_sample(interval: float = 1.0) -> dict:
    """Idle and steal percentages of the whole machine over `interval` seconds, and the busiest processes."""
    p0 = _proc_cpu()
    i0, s0, t0 = _proc_stat()
    time.sleep(interval)
    i1, s1, t1 = _proc_stat()
    p1 = _proc_cpu()
    dt = max(1, t1 - t0)
    ncpu = os.cpu_count() or 1
    busy = sorted(((p1[k][1] - p0[k][1], p1[k][0]) for k in p1 if k in p0 and k != str(os.getpid())), reverse=True)
    top = ["%s %.0f%%" % (name, 100.0 * ticks * ncpu / dt) for ticks, name in busy[:3] if ticks * ncpu * 10 >= dt]
    return {"idle_pct": round(100.0 * (i1 - i0) / dt, 1), "steal_pct": round(100.0 * (s1 - s0) / dt, 1),
            "busiest": top}


def load_reading(interval: float = 1.0) -> dict:
    with open("/proc/loadavg") as f:
        la = f.read().split()
    r = {"time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
         "loadavg": [float(x) for x in la[:3]], "running": la[3]}
    r.update(cpu_sample(interval))
    return r


def fmt_load(r: dict) -> str:
    s = "load %s  idle %.1f%% (1 s sample)" % (" ".join("%.2f" % x for x in r["loadavg"]), r["idle_pct"])
    if r.get("steal_pct"):
        s += "  steal %.1f%%" % r["steal_pct"]
    if r.get("busiest"):
        s += "  busiest: " + ", ".join(r["busiest"])
    if "waited_s" in r:
        if r["waited_s"] >= 0.5 or not r["idle_reached"]:
            s += "  (waited %.0f s for idle%s)" % (r["waited_s"], "" if r["idle_reached"] else ", gave up")
    return s


def wait_idle(max_seconds: float, threshold: float = 90.0) -> dict:
    """Wait up to max_seconds until a 1 s sample shows >= threshold % idle; returns the last reading."""
    t0 = time.monotonic()
    while True:
        r = load_reading(1.0)
        waited = time.monotonic() - t0 - 1.0      # not counting the final 1 s sample itself
        if r["idle_pct"] >= threshold or waited >= max_seconds:
            r["waited_s"] = round(max(0.0, waited), 1)
            r["idle_reached"] = r["idle_pct"] >= threshold
            return r


class OthersMeter:
    """Cores used by *other* processes between start() and stop(): machine busy time minus our CPU time."""

    def start(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.i0, _, self.t0 = _proc_stat()
        self.c0 = self._own()
        self.w0 = time.monotonic()
        return self

    @staticmethod
    def _own() -> float:
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    def stop(self) -> dict:
        i1, _, t1 = _proc_stat()
        wall = time.monotonic() - self.w0
        busy = ((t1 - self.t0) - (i1 - self.i0)) / self.hz
        own = self._own() - self.c0
        return {"wall_s": round(wall, 2), "own_cores": round(own / wall, 2),
                "others_cores": round(min(os.cpu_count() or 1, max(0.0, busy - own) / wall), 2)}


def write_json(doc: dict, dest: str | None) -> None:
    """--json DEST: '-' prints the result document, a path writes it there, empty/None does nothing."""
    if dest == "-":
        print(json.dumps(doc, indent=1))
    elif dest:
        with open(dest, "w") as f:
            json.dump(doc, f, indent=1)
