# SPDX-License-Identifier: Apache-2.0
"""One fault under writes: a healthy start, the writer, the fault, the recovery, docs/design.md's
invariants, the figures, the Sentinel events and the RTO phases, all added to the run's report
(also when the invariants fail: the fault is recorded, then the test fails)."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from tests.chaos import events as ev
from tests.e2e.kube import Release, figures, new_master_acked, wait_for


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


@dataclass
class Fault:
    """What an action did: the old master's host, when the fault struck, threads still running
    (a timed heal), extra facts for the report."""
    old: str
    at: float
    background: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    dns: object = None


def later(seconds: float, fn, *args) -> threading.Thread:
    """Runs fn(*args) after `seconds` in a thread (a heal or a restart while the writes go on)."""
    def run():
        time.sleep(seconds)
        fn(*args)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def chaos_run(rel: Release, report, scenario: str, action, *, seconds: float | None = None, until=None,
              settle_timeout: float = 900, lead: float = 3.0, expect_new_master: bool = True, check=None) -> dict:
    """Writes, runs `action()` (returns a Fault), writes on for at least `seconds` and until
    `until(olds, at)(records)` (default: a master other than the old one acknowledged a write),
    at most 300 s more; then waits for every pod, checks the invariants (and `check(fault_dict)`),
    and records everything under `scenario`. Returns the fault's report entry."""
    seconds = seconds if seconds is not None else env_float("CHAOS_WRITE_SECONDS", 20)
    rel.wait_all_ready(settle_timeout)
    rel.invariants()
    # A Sentinel still in TILT (30 s after its timer stalled, e.g. during the previous fault)
    # does not act: each fault starts with none in TILT, and the wait is recorded.
    waited = time.monotonic()
    wait_for("no Sentinel in TILT", lambda: not any(s.get("tilt") == 1 for s in rel.state()["sentinels"].values()), 120, 2)
    tilt_wait = round(time.monotonic() - waited, 1)
    old_addr = rel.master_address()
    prefix = f"{scenario}-{int(time.time() * 1000) % 10**9}"
    writer = rel.start_writer(prefix, seconds + 300)
    started = time.monotonic()
    deadline = started + 60
    while time.monotonic() < deadline and not any(r["ok"] for r in list(writer.records)):
        time.sleep(0.2)
    assert any(r["ok"] for r in writer.records), f"the writer acknowledged nothing before the fault: {writer.error}"
    time.sleep(lead)
    fault = action()
    olds = {a for a in (fault.old, old_addr) if a}
    done = (until or new_master_acked)(olds, fault.at)
    while writer.is_alive() and not (time.monotonic() - started >= seconds and done(list(writer.records))):
        time.sleep(0.5)
    writer.stop()
    writer.join(120)
    for th in fault.background:
        th.join(600)
    if fault.dns is not None:
        fault.dns.join(120)
    errors: list[str] = []
    master = None
    ready_after = None
    try:
        rel.wait_all_ready(settle_timeout)
        ready_after = round(time.time() - fault.at, 1)
        master = rel.invariants(300)
    except AssertionError as exc:
        errors.append(f"invariants: {exc}")
    records = list(writer.records)
    try:
        stored = rel.stored_keys(prefix)
    except AssertionError as exc:
        stored = set()
        errors.append(f"reading the keys back: {exc}")
    figs = figures(records, fault.at, stored, olds)
    events = ev.collect(rel, fault.at - lead - 5)
    entry = {
        **figs,
        "event_at": fault.at,
        "old_master": fault.old,
        "new_master": master,
        "master_changed": master is not None and master != fault.old,
        "writer_error": writer.error[-500:],
        "phases": ev.phases(events, fault.at, figs, olds),
        "elections": ev.election_counts(events, fault.at),
        "events": [e for e in events if e["event"] in ev.KEY_EVENTS and e["t"] >= fault.at - 1],
        "dns": fault.dns.summary(fault.at) if fault.dns is not None else None,
        "tilt_wait_before_s": tilt_wait,
        # The harness host's load (1, 5, 15 min) at the fault: a starved Sentinel timer means TILT.
        "host_load": [round(x, 1) for x in os.getloadavg()],
        # When every pod was Ready again (checked once the writes ended: an upper bound).
        "all_ready_after_s": ready_after,
        **fault.extra,
    }
    if check is not None and not errors:
        try:
            check(entry)
        except AssertionError as exc:
            errors.append(str(exc))
    entry["invariants_ok"] = not errors
    entry["errors"] = errors
    profile = getattr(getattr(rel, "profile", None), "name", None)
    entry["profile"] = profile
    report.add(f"{profile}:{scenario}" if profile else scenario, entry, records)
    assert not errors, f"{scenario}: " + "; ".join(errors)
    assert records, f"writer produced nothing: {writer.error}"
    assert entry["wait_acked_lost"] == [], f"WAIT-acknowledged writes lost: {entry['wait_acked_lost'][:20]}"
    if expect_new_master:
        assert entry["rto_s"] is not None, "no write was acknowledged by a new master"
    return entry
