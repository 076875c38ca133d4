#!/usr/bin/env python3
"""Markdown tables from the result CSVs of vrptw-bench and reference.py.

Usage: summarize.py [RESULTS_DIR]   (default: the results/ folder beside this script)
Prints, for each budget found, per-family and overall mean gaps for every tool, then a
per-instance table (distance, vehicles, gap) at each budget.
"""
import csv, os, sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
# (file key, label); a key may carry a suffix after "@" for a variant run of the same tool.
TOOLS = [
    ("vrptw", "vrptw (ours)"),
    ("module", "ours, in the module"),
    ("pyvrp", "PyVRP"),
    ("vroom", "pyvroom"),
]
FAMILIES = ["C1", "C2", "R1", "R2", "RC1", "RC2"]


def load_module(path):
    """The markdown table `routing_bench --budget-ms` prints (the routing component in wasmtime)."""
    rows = {}
    with open(path) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 8 or not cells[0][:1].isalpha() or cells[0] == "instance":
                continue
            name, distance, vehicles, unassigned, bks, gap = cells[:6]
            digits = next(i for i, c in enumerate(name) if c.isdigit())
            rows[name] = {"instance": name, "family": name[: digits + 1], "distance": distance,
                          "vehicles": vehicles, "bks": bks, "gap_percent": gap,
                          "feasible": "true" if unassigned == "0" else "false"}
    return rows


def load(results, tool, budget, dataset="solomon"):
    tool, _, suffix = tool.partition("@")
    unit = "" if budget.endswith("iterations") else "s"
    if tool == "module":
        path = os.path.join(results, f"module_{dataset}_{budget}{unit}.txt")
        return load_module(path) if os.path.exists(path) else None
    path = os.path.join(results, f"{tool}_{dataset}_{budget}{unit}{suffix}.csv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return {r["instance"]: r for r in csv.DictReader(f)}


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results")
    for dataset, budget in [("solomon", "1"), ("solomon", "10"), ("solomon", "50k_iterations"), ("homberger200", "10")]:
        data = {t: load(results, t, budget, dataset) for t, _ in TOOLS}
        tools = [(t, label) for t, label in TOOLS if data[t]]
        if not tools:
            continue
        title = "Solomon" if dataset == "solomon" else "Gehring-Homberger 200 (subset)"
        per = "50,000 iterations" if budget == "50k_iterations" else f"{budget} s"
        print(f"\n#### {title}: mean gap to best known, {per} per instance\n")
        print("| family | " + " | ".join(f"{label}" for _, label in tools) + " |")
        print("|---|" + "---:|" * len(tools))
        for fam in FAMILIES + ["all"]:
            if dataset != "solomon" and fam != "all":
                continue
            cells = []
            for t, _ in tools:
                rows = [r for r in data[t].values() if fam == "all" or r["family"] == fam]
                if rows:
                    gaps = [float(r["gap_percent"]) for r in rows]
                    bad = sum(r["feasible"].lower() != "true" for r in rows)
                    cell = f"{sum(gaps) / len(gaps):.2f}% (n={len(rows)})"
                    cells.append(cell + (f", {bad} infeasible" if bad else ""))
                else:
                    cells.append("-")
            print(f"| {'**all**' if fam == 'all' else fam} | " + " | ".join(cells) + " |")
        print(f"\n<details><summary>{title}, per instance, {per} (distance / vehicles / gap %)</summary>\n")
        print("| instance | BKS | " + " | ".join(label for _, label in tools) + " |")
        print("|---|---:|" + "---:|" * len(tools))
        names = sorted(set().union(*[set(data[t]) for t, _ in tools]))
        for name in names:
            bks = next(data[t][name]["bks"] for t, _ in tools if name in data[t])
            cells = []
            for t, _ in tools:
                r = data[t].get(name)
                cells.append(f"{float(r['distance']):.2f} / {r['vehicles']} / {float(r['gap_percent']):.2f}" if r else "-")
            print(f"| {name} | {float(bks):.2f} | " + " | ".join(cells) + " |")
        print("\n</details>")


if __name__ == "__main__":
    main()
