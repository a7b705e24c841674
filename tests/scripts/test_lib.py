# SPDX-License-Identifier: Apache-2.0
"""files/scripts/lib.sh helpers every script relies on, run by the real sh."""
import subprocess

from tests.scripts.harness import SCRIPTS


def sh(body: str) -> subprocess.CompletedProcess:
    script = f'. "{SCRIPTS}/lib.sh"\n{body}\n'
    return subprocess.run(["sh", "-c", script], env={"PATH": "/usr/bin:/bin", "SCRIPTS_DIR": str(SCRIPTS), "PASSWORD_FILE": ""},
                          capture_output=True, text=True, timeout=120)


class TestWithTimeout:
    def test_a_fast_command_replies_exactly_its_output_at_once(self):
        """An instant command stops the watchdog at every stage of its start: before its trap is
        set (the shell's "Terminated" report must never join the captured reply) and before its
        sleep has exec'd (a lost signal would hold the call for the whole 30 s deadline, and 300
        calls would overrun the 120 s this test allows)."""
        r = sh('n=0; i=0; while [ "$i" -lt 300 ]; do i=$((i + 1)); out=$(with_timeout 30 echo PONG 2>&1); '
               '[ "$out" = PONG ] || { n=$((n + 1)); printf "%s|" "$out"; }; done; echo "bad=$n"')
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().endswith("bad=0"), r.stdout

    def test_a_command_past_its_deadline_is_killed(self):
        """A command that hangs is killed after SECONDS and the caller sees its failure."""
        r = sh('start=$(date +%s); with_timeout 1 sleep 30; rc=$?; echo "rc=$rc took=$(($(date +%s) - start))"')
        rc, took = (int(f.split("=")[1]) for f in r.stdout.split())
        assert rc != 0 and took <= 5, r.stdout
