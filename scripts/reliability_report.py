#!/usr/bin/env python3
"""Prints the reliability table from the logs that `make reliability` leaves in build/."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "build")


def read(pattern):
    return "\n".join(p.read_text(errors="replace") for p in sorted(OUT.glob(pattern)))


def main():
    rows = []
    coverage = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_bad_input_coverage.py")],
                              capture_output=True, text=True).stdout.splitlines()[0]
    rows.append(("exported functions with bad-input cases", coverage.split(": ", 1)[1]))

    fuzz = read("fuzz.log")
    execs = re.findall(r"stat::number_of_executed_units: (\d+)", fuzz)
    rate = re.findall(r"stat::average_exec_per_sec:\s+(\d+)", fuzz)
    crashes = len(re.findall(r"==\d+== ERROR|panicked at|deadly signal", fuzz))
    rows.append(("fuzz executions / per second / crashes",
                 f"{execs[-1] if execs else 'not run'} / {rate[-1] if rate else '-'} / {crashes}"))

    races = re.findall(r"close race, fdsafe handles: (\d+) operations, \d+ tokens delivered, (\d+) misdirected",
                       read("test_close_race.*.log"))
    control = re.findall(r"raw descriptors \(control\): (\d+) operations, \d+ tokens delivered, (\d+) misdirected",
                         read("test_close_race.*.log"))
    ops = sum(int(o) for o, _ in races)
    rows.append(("close-race operations / misdirected (fdsafe)",
                 f"{ops} / {sum(int(m) for _, m in races)} in {len(races)} runs"))
    rows.append(("close-race misdirected (raw-fd control)", ", ".join(m for _, m in control) or "not run"))
    owned = re.findall(r"writers on their own pipes, another thread closing: (\d+) operations, (\d+) closes, \d+ tokens delivered, "
                       r"(\d+) misdirected", read("test_close_race.*.log"))
    rows.append(("close race, threads writing their own pipes, another closing: operations / closes / misdirected",
                 f"{sum(int(o) for o, _, _ in owned)} / {sum(int(c) for _, c, _ in owned)} / "
                 f"{sum(int(m) for _, _, m in owned)} in {len(owned)} runs"))

    # test_races.c: close racing epoll, descriptor passing, dup/release, and churn (3 builds).
    race_logs = "\n".join(read(f"test_races.{v}.log") for v in ("dynamic", "static", "asan"))
    race_ops = sum(int(n) for n in re.findall(r"^[a-z/ ]+ vs close: (\d+) operations", race_logs, flags=re.M))
    race_ops += sum(int(n) for n in re.findall(r"^create/close churn: (\d+) operations", race_logs, flags=re.M))
    wrong = sum(int(n) for n in re.findall(r"(\d+) (?:misdirected events|wrong files)", race_logs))
    wrong += sum(int(n) for n in re.findall(r"dups tried after close returned, (\d+) succeeded", race_logs))
    rows.append(("races (epoll, passing, dup/release, churn) operations / misdirected",
                 f"{race_ops} / {wrong}" if race_ops else "not run"))

    valgrind = read("*.valgrind.log")
    errors = sum(int(n) for n in re.findall(r"ERROR SUMMARY: (\d+) errors", valgrind))
    lost = sum(int(n.replace(",", "")) for n in re.findall(r"(?:definitely|indirectly) lost: ([\d,]+) bytes", valgrind))
    programs = len(re.findall(r"ERROR SUMMARY", valgrind))
    rows.append(("valgrind errors / bytes definitely+indirectly lost", f"{errors} / {lost} ({programs} processes)"))

    for name, log in (("ThreadSanitizer, Rust tests", "tsan.log"), ("Miri, handle-table tests", "miri.log")):
        text = read(log)
        passed = re.findall(r"test result: ok\. (\d+) passed", text)
        if "skipped:" in text:
            rows.append((name, text.strip().splitlines()[-1]))
        elif passed:
            rows.append((name, f"{passed[-1]} tests passed, no reports"))
        else:
            rows.append((name, "not run"))

    skipped = sorted(set(re.findall(r"skipped: ([^\n]+)", valgrind)))
    rows.append(("tests skipped under valgrind (reason)", "; ".join(skipped) or "none"))

    c_logs = read("test_*.log")
    checked = len(re.findall(r"\[       OK \]", c_logs))
    leaks = len(re.findall(r"descriptor \d+ leaked", c_logs))
    rows.append(("C test-case runs with descriptor check / descriptors leaked", f"{checked} / {leaks} (3 builds + valgrind)"))

    width = max(len(k) for k, _ in rows)
    print("\nreliability")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    bad = crashes or errors or lost or leaks or wrong or (races and any(int(m) for _, m in races))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
