#!/usr/bin/env python3
"""Counts the public declarations of each library module, from the symbol graphs SwiftPM writes.

    swift package dump-symbol-graph --minimum-access-level public
    python3 scripts/public-api-count.py [--list MODULE]

A declaration is a symbol of the module's own graph (types, members, free functions) with public or open
access, synthesized members left out; extensions to other modules' types are counted apart ("+N in
extensions"). `--list MODULE` prints the module's declarations, one per line, for diffs.
"""
import glob
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
graphs = glob.glob(os.path.join(ROOT, ".build", "*", "symbolgraph", "*.symbols.json"))
if not graphs:
    sys.exit("no symbol graphs: run `swift package dump-symbol-graph --minimum-access-level public` first")

LIBRARIES = ["StrataCore", "StrataStorage", "Strata", "StrataConformance", "StrataSQLite", "StrataServices", "StrataTesting"]


def public(path):
    symbols = json.load(open(path))["symbols"]
    return [s for s in symbols if s["accessLevel"] in ("public", "open") and "::SYNTHESIZED::" not in s["identifier"]["precise"]]


def name(symbol):
    return symbol["kind"]["identifier"].removeprefix("swift.") + " " + ".".join(symbol["pathComponents"])


by_module = {}
for path in graphs:
    base = os.path.basename(path).removesuffix(".symbols.json")
    module, _, extended = base.partition("@")
    entry = by_module.setdefault(module, {"own": [], "extensions": []})
    entry["extensions" if extended else "own"] += public(path)

if len(sys.argv) == 3 and sys.argv[1] == "--list":
    for line in sorted(name(s) for s in by_module.get(sys.argv[2], {"own": []})["own"]):
        print(line)
    sys.exit(0)

for module in LIBRARIES:
    if module in by_module:
        entry = by_module[module]
        print(f"{module:18} {len(entry['own']):5}  (+{len(entry['extensions'])} in extensions of other modules' types)")
