# SPDX-License-Identifier: Apache-2.0
"""Sentinel events from the Sentinels' own logs, with Redis' millisecond timestamps, and the RTO
broken into phases: kill -> +sdown -> +odown -> +elected-leader -> +promoted-slave ->
+switch-master -> the client hears the new master -> first acknowledged write."""
from __future__ import annotations

import re
from datetime import datetime, timezone

# "1:X 03 Dec 2026 08:40:01.123 # +sdown master mymaster host 6379"
LINE = re.compile(r"^(?:\S+ )?\d+:X (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) [.\-*#] ([+-][\w-]+) ?(.*)$")
KEY_EVENTS = ("+sdown", "+odown", "+try-failover", "+vote-for-leader", "+elected-leader", "+selected-slave",
              "+promoted-slave", "+switch-master", "+failover-end", "-failover-abort-not-elected",
              "-failover-abort-no-good-slave", "-failover-abort-slave-timeout", "-odown", "-sdown", "+new-epoch",
              "+convert-to-slave", "+reboot", "+failover-state-reconf-slaves", "+tilt", "-tilt")
# (phase name, event, predicate on the text): the first matching event of any Sentinel marks the phase.
PHASES = (
    ("sdown", "+sdown", lambda text: text.startswith("master ")),
    ("odown", "+odown", lambda text: text.startswith("master ")),
    ("try_failover", "+try-failover", lambda text: True),
    ("elected_leader", "+elected-leader", lambda text: True),
    ("selected_slave", "+selected-slave", lambda text: True),
    ("promoted_slave", "+promoted-slave", lambda text: True),
    ("switch_master", "+switch-master", lambda text: True),
)


def parse(text: str, source: str) -> list[dict]:
    """Every Sentinel event line of a log: {"t": epoch seconds, "sentinel": source, "event", "text"}.
    Redis writes its timestamps in the container's local time, UTC in these images."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        stamp, event, rest = m.groups()
        t = datetime.strptime(stamp, "%d %b %Y %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
        out.append({"t": round(t, 3), "sentinel": source, "event": event, "text": rest[:200]})
    return out


def collect(rel, since: float) -> list[dict]:
    """Events of every Sentinel pod since an epoch time (current and previous container logs),
    sorted by time, duplicates removed."""
    seen, events = set(), []
    for previous in (False, True):
        for pod, text in rel.sentinel_logs(since, previous=previous).items():
            for e in parse(text, pod):
                key = (e["t"], e["sentinel"], e["event"], e["text"])
                if e["t"] >= since and key not in seen:
                    seen.add(key)
                    events.append(e)
    return sorted(events, key=lambda e: e["t"])


def phases(events: list[dict], event_at: float, figs: dict, old_names: set[str]) -> dict:
    """Seconds from the fault to the first of each Sentinel event (about the old master where the
    event names one), to the client's first discovery of the new master, and to the first
    acknowledged write; plus the step between consecutive phases."""
    def about_old(e):
        return not old_names or any(f" {n} " in f" {e['text']} " for n in old_names) or e["event"] not in ("+sdown", "+odown")
    out: dict = {}
    for name, event, pred in PHASES:
        hits = [e["t"] for e in events if e["t"] >= event_at - 0.5 and e["event"] == event and pred(e["text"]) and about_old(e)]
        out[name] = round(min(hits) - event_at, 3) if hits else None
    out["client_discovered"] = figs.get("new_master_discovered_s")
    out["first_acked_write"] = figs.get("rto_s")
    steps, prev = {}, 0.0
    for name, value in out.items():
        if value is not None:
            steps[name] = round(value - prev, 3)
            prev = value
    return {"from_fault_s": out, "steps_s": steps}


def election_counts(events: list[dict], event_at: float) -> dict:
    after = [e for e in events if e["t"] >= event_at - 0.5]
    return {
        "try_failover": sum(e["event"] == "+try-failover" for e in after),
        "elected": sum(e["event"] == "+elected-leader" for e in after),
        "aborted": sum(e["event"].startswith("-failover-abort") for e in after),
        "abort_reasons": sorted({e["event"] for e in after if e["event"].startswith("-failover-abort")}),
        "epochs": sorted({int(e["text"].split()[0]) for e in after if e["event"] == "+new-epoch" and e["text"].split()[:1] and e["text"].split()[0].isdigit()}),
        "switches": sum(e["event"] == "+switch-master" for e in after),
        "tilt": sum(e["event"] == "+tilt" for e in after),
    }
