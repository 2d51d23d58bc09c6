#!/usr/bin/env python3
"""Print a results file of `strata-bench run` (bench-out/results-<size>.json) as the Markdown the README shows:
one line naming the run (date, command, commit, machine) and the table, row for row as the harness printed it.

    python3 scripts/bench-table.py bench-out/results-full.json
"""
import json
import sys


def main(path: str) -> None:
    with open(path) as f:
        run = json.load(f)
    m = run["machine"]
    date = run["date"].replace("T", " ").rstrip("Z")[:16] + " UTC"
    size = run["size"]
    target = "make bench-full" if size == "full" else "make bench" if size == "quick" else run["command"]
    dirty = " plus uncommitted changes" if run.get("git_dirty") else ""
    print(f"{size.capitalize()} run finished {date} (`{target}`, {int(run['elapsed_s'] // 60)} min) at commit "
          f"{run['git_commit'][:7]}{dirty}, on {m['cores']} cores ({m['cpu']}), {m['memory_gib']:.1f} GiB, "
          f"{m['kernel']}, {m['swift']}, SQLite {m['sqlite']}:")
    print()
    print("| workload | Strata | SQLite (GRDB) | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in run["table"]:
        cells = [row["workload"], row["strata"], row["sqlite"], row["ratio"], row["goal"]]
        print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench-table.py bench-out/results-<size>.json")
    main(sys.argv[1])
