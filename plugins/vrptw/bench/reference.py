#!/usr/bin/env python3
"""Run the reference solvers (PyVRP, pyvroom) on Solomon-format VRPTW files.

Same instances, budget and table as `vrptw-bench`, so numbers sit side by side.
Both tools take integer matrices, so coordinates are scaled by SCALE: distances are
rounded (the objective) and travel durations are rounded *up* (so a route that is
feasible for the tool is also feasible with exact double-precision times). The
reported distance of every route is recomputed here in double precision from the
original coordinates, and every route is re-simulated against the windows and the
capacity; a violation is reported, never hidden.

Usage: reference.py --tool pyvrp|vroom --data DIR --budget SECONDS [--seed N]
                    [--only C101,R101,...] [--out results/NAME.csv]
"""
import argparse, csv, json, math, os, sys, time
from datetime import timedelta

SCALE = 10000


def read_solomon(path):
    with open(path) as f:
        lines = [l.split() for l in f if l.strip()]
    name = lines[0][0]
    fleet, cap = None, None
    rows = []
    for i, l in enumerate(lines):
        if l[0] == "NUMBER":
            fleet, cap = int(lines[i + 1][0]), int(lines[i + 1][1])
        if l[0].isdigit() and len(l) == 7:
            rows.append([float(x) for x in l])
    return name, fleet, cap, rows


def dist(a, b):
    return math.hypot(a[1] - b[1], a[2] - b[2])


def check(rows, cap, routes):
    """Exact re-simulation; returns (distance, list of violation strings)."""
    seen, errors, total = set(), [], 0.0
    depot = rows[0]
    for r in routes:
        t, load, prev = depot[4], 0.0, depot
        for c in r:
            row = rows[c]
            if c in seen:
                errors.append(f"customer {c} twice")
            seen.add(c)
            d = dist(prev, row)
            total += d
            t = max(t + d, row[4])
            if t > row[5] + 1e-9:
                errors.append(f"customer {c} late by {t - row[5]:.6f}")
            t += row[6]
            load += row[3]
            prev = row
        d = dist(prev, depot)
        total += d
        if t + d > depot[5] + 1e-9:
            errors.append("depot closes before return")
        if load > cap:
            errors.append(f"capacity {load} > {cap}")
    missing = set(range(1, len(rows))) - seen
    if missing:
        errors.append(f"{len(missing)} customers unserved")
    return total, errors


def solve_pyvrp(rows, fleet, cap, budget, seed):
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    m = Model()
    d0 = rows[0]
    # pyvrp 0.14: depots and clients sit at Locations; edges join Locations.
    locs = [m.add_location(x=r[1], y=r[2]) for r in rows]
    depot = m.add_depot(locs[0])
    m.add_vehicle_type(num_available=fleet, capacity=int(cap), start_depot=depot, end_depot=depot,
                       tw_early=int(d0[4] * SCALE), tw_late=int(d0[5] * SCALE))
    for loc, r in zip(locs[1:], rows[1:]):
        m.add_client(loc, delivery=int(r[3]), service_duration=int(r[6] * SCALE),
                     tw_early=int(r[4] * SCALE), tw_late=int(r[5] * SCALE))
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            if i != j:
                d = dist(rows[i], rows[j]) * SCALE
                m.add_edge(a, b, distance=round(d), duration=math.ceil(d - 1e-9))
    res = m.solve(stop=MaxRuntime(budget), seed=seed, display=False)
    # A client activity's idx counts clients only; location 0 is the single depot.
    return [[a.idx + 1 for a in r if a.is_client()] for r in res.best.routes()], res.is_feasible()


def solve_vroom(rows, fleet, cap, budget, seed):
    import vroom

    n = len(rows)
    dur = [[0] * n for _ in range(n)]
    cost = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j:
                d = dist(rows[i], rows[j]) * SCALE
                dur[i][j] = math.ceil(d - 1e-9)
                cost[i][j] = round(d)
    inp = vroom.Input()
    inp.set_durations_matrix("car", dur)
    inp.set_costs_matrix("car", cost)
    d0 = rows[0]
    tw = vroom.TimeWindow(int(d0[4] * SCALE), int(d0[5] * SCALE))
    for v in range(fleet):
        inp.add_vehicle(vroom.Vehicle(v, start=0, end=0, capacity=[int(cap)], time_window=tw))
    for i, r in enumerate(rows[1:], start=1):
        inp.add_job(vroom.Job(i, location=i, default_service=int(r[6] * SCALE), delivery=[int(r[3])],
                              time_windows=[vroom.TimeWindow(int(r[4] * SCALE), int(r[5] * SCALE))]))
    sol = inp.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=budget))
    df = sol.routes
    routes = []
    for _, g in df.groupby("vehicle_id", sort=True):
        jobs = [int(x) for x, t in zip(g["id"], g["type"]) if str(t) == "job"]
        if jobs:
            routes.append(jobs)
    return routes, True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True, choices=["pyvrp", "vroom"])
    ap.add_argument("--data", required=True, help="directory with Solomon *.txt and BKS.json")
    ap.add_argument("--budget", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    bks = json.load(open(os.path.join(a.data, "BKS.json")))
    files = sorted(f for f in os.listdir(a.data) if f.endswith(".txt") and f != "SOURCE.txt")
    only = set(x.strip().upper() for x in a.only.split(",") if x.strip())
    solve = solve_pyvrp if a.tool == "pyvrp" else solve_vroom
    out_rows = []
    print(f"{'instance':<10} {'distance':>10} {'veh':>4} {'bks':>10} {'gap%':>7} {'time_s':>7}  check")
    for f in files:
        name = f[:-4]
        if only and name.upper() not in only:
            continue
        key = name.upper() if name.upper() in bks else name
        ref = bks[key].get("distance_bks_cost") or bks[key]["bks_cost"]
        _, fleet, cap, rows = read_solomon(os.path.join(a.data, f))
        t0 = time.perf_counter()
        routes, _ = solve(rows, fleet, cap, a.budget, a.seed)
        elapsed = time.perf_counter() - t0
        total, errors = check(rows, cap, routes)
        gap = 100.0 * (total - ref) / ref
        status = "ok" if not errors else "INFEASIBLE: " + "; ".join(errors[:3])
        print(f"{name:<10} {total:>10.2f} {len(routes):>4} {ref:>10.2f} {gap:>7.2f} {elapsed:>7.2f}  {status}", flush=True)
        out_rows.append(dict(instance=name, family=family(name), distance=round(total, 2), vehicles=len(routes),
                             bks=ref, gap_percent=round(gap, 4), time_s=round(elapsed, 3), feasible=not errors))
    summarize(out_rows)
    if a.out:
        with open(a.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(out_rows[0].keys()))
            w.writeheader()
            w.writerows(out_rows)


def family(name):
    n = name.upper()
    if n.startswith("RC"):
        return "RC" + n[2]
    if "_" in n:  # Gehring-Homberger: c1_2_1 -> C1
        return n.split("_")[0]
    return n[0] + n[1]


def summarize(rows):
    fams = {}
    for r in rows:
        fams.setdefault(r["family"], []).append(r["gap_percent"])
    for fam in sorted(fams):
        g = fams[fam]
        print(f"family {fam:<4} n={len(g):>2} mean gap {sum(g) / len(g):.2f}%")
    if rows:
        g = [r["gap_percent"] for r in rows]
        print(f"overall  n={len(g):>2} mean gap {sum(g) / len(g):.2f}%  infeasible {sum(not r['feasible'] for r in rows)}")


if __name__ == "__main__":
    main()
