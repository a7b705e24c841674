# SPDX-License-Identifier: Apache-2.0
"""build/chaos/<run-id>/: report.json (every fault's figures, events and RTO phases),
timelines/<scenario>-<n>.json (the raw writes), <scenario>.png (writes per 100 ms, failures and
Sentinel events around each fault) and summary.md (one table row per scenario)."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

EVENT_COLOURS = {"+sdown": "#999999", "+odown": "#555555", "+try-failover": "#ff9900", "+elected-leader": "#cc6600",
                 "+selected-slave": "#9966cc", "+promoted-slave": "#3366cc", "+switch-master": "#0033aa",
                 "-failover-abort-not-elected": "#cc0000", "-failover-abort-no-good-slave": "#cc0000",
                 "-failover-abort-slave-timeout": "#cc0000"}


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (p99 of fewer than 100 values is the maximum)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


class ChaosReport:
    def __init__(self, root: Path, run_id: str, meta: dict):
        self.dir = root / run_id
        (self.dir / "timelines").mkdir(parents=True, exist_ok=True)
        self.data = {"run_id": run_id, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta, "scenarios": {}}
        self.timelines: dict[str, list[tuple[dict, list[dict]]]] = {}

    def add(self, scenario: str, fault: dict, records: list[dict]) -> None:
        """One fault: its figures (JSON-able) and the writes around it."""
        entries = self.data["scenarios"].setdefault(scenario, {"faults": []})["faults"]
        fault = {"n": len(entries) + 1, **fault}
        name = f"{scenario.replace(':', '-')}-{fault['n']}.json"
        (self.dir / "timelines" / name).write_text(json.dumps(records))
        fault["timeline"] = f"timelines/{name}"
        entries.append(fault)
        self.timelines.setdefault(scenario, []).append((fault, records))
        self.save()

    def save(self) -> None:
        for name, sc in self.data["scenarios"].items():
            sc["summary"] = summarise(sc["faults"])
        self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (self.dir / "report.json").write_text(json.dumps(self.data, indent=1))

    def finish(self) -> Path:
        self.save()
        for scenario, faults in self.timelines.items():
            try:
                plot(self.dir / f"{scenario.replace(':', '-')}.png", scenario, faults)
            except Exception as exc:  # a plot must not hide the figures
                (self.dir / f"{scenario.replace(':', '-')}.png.error").write_text(repr(exc))
        (self.dir / "summary.md").write_text(summary_md(self.data))
        return self.dir


def summarise(faults: list[dict]) -> dict:
    def r(v):
        return None if v is None else round(v, 3)
    rto = [f.get("rto_s") for f in faults]
    stall = [f.get("longest_stall_s") for f in faults]
    return {
        "count": len(faults),
        "rto_p50_s": r(quantile(rto, 0.5)), "rto_p99_s": r(quantile(rto, 0.99)), "rto_max_s": r(quantile(rto, 1.0)),
        "rto_missing": sum(v is None for v in rto),
        "stall_p50_s": r(quantile(stall, 0.5)), "stall_p95_s": r(quantile(stall, 0.95)), "stall_max_s": r(quantile(stall, 1.0)),
        "aborted_elections": sum(f.get("elections", {}).get("aborted", 0) for f in faults),
        "faults_with_abort": sum(bool(f.get("elections", {}).get("aborted")) for f in faults),
        # Sentinel's TILT mode (its timer stalled > 2 s; it then acts on nothing for 30 s).
        "faults_with_tilt": sum(bool(f.get("elections", {}).get("tilt")) for f in faults),
        "failed_writes": sum(f.get("failed", 0) for f in faults),
        "wait_acked_lost": sum(len(f.get("wait_acked_lost", [])) for f in faults),
        "async_acked_lost": sum(f.get("async_acked_lost", 0) for f in faults),
        "invariants_failed": sum(not f.get("invariants_ok", True) for f in faults),
    }


def fmt(v) -> str:
    return "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def summary_md(data: dict) -> str:
    profiles = ", ".join(f"`{name}` ({p.get('file')}, {p.get('sentinels')} Sentinels{', co-located' if p.get('colocated') else ''})"
                         for name, p in data.get("profiles", {}).items()) or f"`{data.get('profile', {}).get('name')}`"
    loads = [f["host_load"][0] for sc in data["scenarios"].values() for f in sc["faults"] if f.get("host_load")]
    lines = [f"# Chaos run {data['run_id']}", "",
             f"Profiles: {profiles}. Started {data['started']}, "
             f"cluster: {data.get('cluster', {}).get('nodes')} nodes, Kubernetes {data.get('cluster', {}).get('version')}. "
             f"Settings: {json.dumps(data.get('settings', {}))}."
             + (f" Host load (1 min) at the faults: {min(loads)}–{max(loads)}." if loads else ""), "",
             "RTO: fault → first write acknowledged by a master other than the old one (seconds). Stall: longest gap "
             "between acknowledged writes. TILT: faults during which a Sentinel entered TILT mode. Lost: acknowledged writes missing "
             "from the final master (WAIT 1-acknowledged / async). p99 of fewer than 100 faults is the maximum.", "",
             "| scenario | count | RTO p50 | RTO p99 | RTO max | no RTO | stall p50 | stall p95 | aborted elections | TILT | failed writes | WAIT-acked lost | async lost | invariants failed |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, sc in data["scenarios"].items():
        s = sc["summary"]
        lines.append(f"| {name} | {s['count']} | {fmt(s['rto_p50_s'])} | {fmt(s['rto_p99_s'])} | {fmt(s['rto_max_s'])} | {s['rto_missing']} | "
                     f"{fmt(s['stall_p50_s'])} | {fmt(s['stall_p95_s'])} | {s['aborted_elections']} ({s['faults_with_abort']} faults) | {s['faults_with_tilt']} | "
                     f"{s['failed_writes']} | {s['wait_acked_lost']} | {s['async_acked_lost']} | {s['invariants_failed']} |")
    lines += ["", "## RTO phases (median seconds from the fault)", "",
              "| scenario | +sdown | +odown | +elected-leader | +promoted-slave | +switch-master | client hears new master | first acked write |",
              "|---|---|---|---|---|---|---|---|"]
    for name, sc in data["scenarios"].items():
        cols = []
        for key in ("sdown", "odown", "elected_leader", "promoted_slave", "switch_master", "client_discovered", "first_acked_write"):
            cols.append(fmt(quantile([f.get("phases", {}).get("from_fault_s", {}).get(key) for f in sc["faults"]], 0.5)))
        lines.append(f"| {name} | " + " | ".join(cols) + " |")
    dns = [(name, f["dns"]) for name, sc in data["scenarios"].items() for f in sc["faults"] if f.get("dns")]
    if dns:
        lines += ["", "## getaddrinfo of the killed pod's FQDN from a Sentinel container (getent ahosts, ms)", "",
                  "| scenario | lookups | resolved p50 / p95 / max | not found p50 / p95 / max | unresolvable (s after the fault) |", "|---|---|---|---|---|"]
        for name, d in dns:
            res, nf = d.get("resolved") or {}, d.get("not_found") or {}
            lines.append(f"| {name} | {d['lookups']} | {fmt(res.get('p50_ms'))} / {fmt(res.get('p95_ms'))} / {fmt(res.get('max_ms'))} | "
                         f"{fmt(nf.get('p50_ms'))} / {fmt(nf.get('p95_ms'))} / {fmt(nf.get('max_ms'))} | "
                         f"{fmt(d.get('unresolvable_from_s'))} – {fmt(d.get('unresolvable_to_s'))} |")
    extra = [(name, f) for name, sc in data["scenarios"].items() for f in sc["faults"] if f.get("notes")]
    if extra:
        lines += ["", "## Notes", ""] + [f"- {name} #{f['n']}: {f['notes']}" for name, f in extra]
    return "\n".join(lines) + "\n"


def plot(path: Path, scenario: str, faults: list[tuple[dict, list[dict]]], limit: int = 12) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = faults[:limit]
    fig, axes = plt.subplots(len(shown), 1, figsize=(12, 2.2 * len(shown) + 0.8), squeeze=False)
    for ax, (fault, records) in zip(axes[:, 0], shown):
        at = fault["event_at"]
        ok = [r["t"] + r["d"] - at for r in records if r["ok"]]
        bad = [r["t"] + r["d"] - at for r in records if not r["ok"]]
        lo = min(ok + bad + [0.0]) if (ok or bad) else -5
        hi = max(ok + bad + [1.0]) if (ok or bad) else 30
        bins = [lo + 0.1 * i for i in range(int((hi - lo) / 0.1) + 2)]
        ax.hist(ok, bins=bins, color="#2ca02c", label="acknowledged / 100 ms")
        ax.hist(bad, bins=bins, color="#d62728", label="failed / 100 ms")
        ax.axvline(0, color="black", lw=1.5)
        for e in fault.get("events", []):
            x = e["t"] - at
            if lo <= x <= hi and e["event"] in EVENT_COLOURS:
                ax.axvline(x, color=EVENT_COLOURS[e["event"]], lw=0.8, ls="--")
                ax.text(x, ax.get_ylim()[1] * 0.95, e["event"], rotation=90, fontsize=6, va="top", color=EVENT_COLOURS[e["event"]])
        if fault.get("rto_s") is not None:
            ax.axvline(fault["rto_s"], color="#2ca02c", lw=1.5, ls=":")
        ax.set_ylabel(f"#{fault['n']}")
        ax.set_title(f"RTO {fmt(fault.get('rto_s'))} s, stall {fmt(fault.get('longest_stall_s'))} s, failed {fault.get('failed')}, "
                     f"aborts {fault.get('elections', {}).get('aborted', 0)}", fontsize=8, loc="left")
        ax.set_xlim(lo, hi)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds from the fault")
    fig.suptitle(f"{scenario}: writes per 100 ms around each fault (dashed: Sentinel events)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def rebuild(run_dir: Path) -> Path:
    """summary.md and the plots again from a run's report.json and timelines (e.g. after a
    run was interrupted): python -m tests.chaos.report build/chaos/<run-id>."""
    data = json.loads((run_dir / "report.json").read_text())
    rep = ChaosReport(run_dir.parent, run_dir.name, {})
    rep.data = data
    for scenario, sc in data["scenarios"].items():
        rep.timelines[scenario] = [(f, json.loads((run_dir / f["timeline"]).read_text())) for f in sc["faults"]]
    return rep.finish()


if __name__ == "__main__":
    import sys
    print(rebuild(Path(sys.argv[1])))
