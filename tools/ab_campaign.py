#!/usr/bin/python3
"""Measures how often `iomodels ab` is wrong: an A/A campaign (the same binary on
both sides, so every 'faster' or 'slower' is a false alarm) and an A/B campaign
(B slowed by IOMODELS_TEST_SLOWDOWN=MODEL:PERCENT, so 'slower' on that model's
CPU per request is a detection and anything on the other models a false alarm).

Usage: tools/ab_campaign.py [--binary PATH] [--trials N] [--rounds R]
                            [--slowdown MODEL:PERCENT] [--models LIST] [--out DIR]
                            [-- run flags]
Each trial is one `iomodels ab` per model; the trials alternate A/A and A/B.
Prints a Markdown table of the verdicts per campaign, model and figure, the
false-alarm rate over both figures together, and each trial's wall time.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = "ab_campaign.py"


def default_binary():
    """The source tree's Release build, or, installed, the iomodels beside this script."""
    built = os.path.join(HERE, "..", "build", "release", "iomodels")
    installed = os.path.join(HERE, "iomodels")
    return built if os.access(built, os.X_OK) or not os.access(installed, os.X_OK) else installed


def refuse(what):
    print(f"{PROG}: error: {what}", file=sys.stderr)
    return 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--trials", type=int, default=20, help="trials per campaign (default 20)")
    ap.add_argument("--rounds", type=int, default=12, help="rounds of each ab (default 12)")
    ap.add_argument("--slowdown", default="epoll:10", help="B's slowdown in the A/B campaign")
    ap.add_argument("--models", default="epoll,uring-multishot")
    ap.add_argument("--out", help="keep every ab's JSON in this directory")
    ap.add_argument("run", nargs="*", help="flags for `iomodels run` (after --); default: "
                    "-t socketpair -c 64 -s 4KiB -l 1ms -r 200")
    args = ap.parse_args()
    if args.trials < 1:
        return refuse(f"--trials: {args.trials} is not at least 1")
    if not 6 <= args.rounds <= 500:
        return refuse(f"--rounds: {args.rounds} is outside 6..500")
    if ":" not in args.slowdown:
        return refuse(f"--slowdown: '{args.slowdown}' is not MODEL:PERCENT")
    if not os.access(args.binary, os.X_OK):
        return refuse(f"--binary: {args.binary} is not built")
    models = [m for m in args.models.split(",") if m]
    if not models:
        return refuse("--models: empty")
    run = args.run or ["-t", "socketpair", "-c", "64", "-s", "4KiB", "-l", "1ms", "-r", "200"]
    out_dir = args.out or tempfile.mkdtemp(prefix="iomodels-ab-campaign-")
    os.makedirs(out_dir, exist_ok=True)
    slow_model = args.slowdown.split(":")[0]

    # verdicts[campaign][model][figure] = list of verdict words
    verdicts = {"A/A": {}, "A/B": {}}
    trial_s = []
    for trial in range(args.trials * 2):
        campaign = "A/A" if trial % 2 == 0 else "A/B"
        started = time.monotonic()
        for model in models:
            path = os.path.join(out_dir, f"{campaign.replace('/', '')}-{trial // 2 + 1}-{model}.json")
            cmd = [args.binary, "ab", "--rounds", str(args.rounds), "--json", path]
            if campaign == "A/B":
                cmd += ["--b-env", f"IOMODELS_TEST_SLOWDOWN={args.slowdown}"]
            cmd += ["--", "-m", model] + run
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                lines = (p.stderr or p.stdout).strip().splitlines()
                print(f"{PROG}: error: `{' '.join(cmd)}` exited {p.returncode}: "
                      f"{lines[-1] if lines else ''}", file=sys.stderr)
                return 2 if p.returncode == 2 else 1
            with open(path) as f:
                for v in json.load(f)["verdicts"]:
                    word = v["verdict"].split()[0]
                    word = word if word in ("faster", "slower") else "no difference"
                    verdicts[campaign].setdefault(model, {}).setdefault(v["figure"], []).append(word)
        trial_s.append(time.monotonic() - started)
        print(f"{PROG}: trial {trial // 2 + 1} {campaign}: {trial_s[-1]:.1f} s", file=sys.stderr)

    print(f"`iomodels ab --rounds {args.rounds} -- -m MODEL {' '.join(run)}`, {args.trials} trials "
          f"a campaign; A/B: B with IOMODELS_TEST_SLOWDOWN={args.slowdown}. JSON: {out_dir}\n")
    print("| campaign | model | figure | slower | faster | no difference |")
    print("|---|---|---|---:|---:|---:|")
    for campaign in ("A/A", "A/B"):
        for model in models:
            for fig, words in verdicts[campaign].get(model, {}).items():
                print(f"| {campaign} | {model} | {fig} | {words.count('slower')} | "
                      f"{words.count('faster')} | {words.count('no difference')} |")
    print()
    for campaign in ("A/A", "A/B"):
        for model in models:
            figs = verdicts[campaign].get(model, {})
            n = len(next(iter(figs.values()), []))
            # A trial raises a false alarm when any figure is called different,
            # except the slowed model's slowdown being found in the A/B campaign.
            alarms = 0
            for i in range(n):
                called = [fig for fig, words in figs.items() if words[i] != "no difference"]
                if campaign == "A/B" and model == slow_model:
                    called = [f for f in called if not (f == "cpu_us_per_req"
                                                        and figs[f][i] == "slower")]
                    # Fewer requests/s is the same slowdown seen from the other side.
                    called = [f for f in called if not (f == "items_per_second"
                                                        and figs[f][i] == "slower")]
                alarms += bool(called)
            what = ("false alarms (any figure but the slowdown found)"
                    if campaign == "A/B" and model == slow_model else "false alarms (any figure)")
            print(f"- {campaign}, {model}: {alarms} of {n} trials: {what}")
        if campaign == "A/B" and slow_model in verdicts["A/B"]:
            found = verdicts["A/B"][slow_model].get("cpu_us_per_req", [])
            print(f"- A/B, {slow_model}: CPU per request called slower in "
                  f"{found.count('slower')} of {len(found)} trials (the detection rate)")
    trial_s.sort()
    print(f"\nA trial (every model once): median {trial_s[len(trial_s) // 2]:.1f} s, "
          f"longest {trial_s[-1]:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
