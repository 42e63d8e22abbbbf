"""Summaries for bench/run.sh: reads "<side> <case> <value> [allocs]" lines (side go or py,
value a time per op), takes medians per case, prints a table and the RESULT line.

    python summarize.py tensordict|replaybuffer|nn|rewardmodel FILE
"""
import math
import statistics
import sys


def load(path):
    go, py, other, allocs = {}, {}, {}, {}
    for line in open(path):
        f = line.split()
        if len(f) < 3 or f[0] not in ("go", "py", "gorgonia"):
            continue
        {"go": go, "py": py, "gorgonia": other}[f[0]].setdefault(f[1], []).append(float(f[2]))
        if f[0] != "py" and len(f) > 3:
            allocs[f[1]] = int(f[3])
    med = lambda d: {k: statistics.median(v) for k, v in d.items()}  # noqa: E731
    go = med(go)
    go.update({"@" + k: v for k, v in med(other).items()})  # other Go libraries, for the record
    return go, med(py), allocs


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def tensordict(go, py, allocs):
    rows = {op: py[op] / go[op] for op in go}
    print("%-14s %12s %12s %8s %8s" % ("op", "go_ns", "python_ns", "speedup", "allocs"))
    for op in go:
        print("%-14s %12.0f %12.0f %8.1f %8d" % (op, go[op], py[op], rows[op], allocs.get(op, -1)))
    worst = min(rows, key=rows.get)
    print("RESULT tensordict ratio=%.1f worst=%s:%.1f ops=%d" % (geomean(rows.values()), worst, rows[worst], len(rows)))


def replaybuffer(go, py, allocs):
    print("%-34s %12s %12s %12s %8s %8s" % ("case", "torchrl_ns", "go_ns", "go_into_ns", "speedup", "allocs"))
    rows = {}
    for case in py:
        rows[case] = py[case] / min(go[case], go.get(case + "_into", go[case]))
        print("%-34s %12.0f %12.0f %12.0f %8.1f %8d" % (case, py[case], go[case], go.get(case + "_into", float("nan")), rows[case], allocs.get(case, -1)))
    worst = min(rows, key=rows.get)
    print("RESULT replaybuffer ratio=%.2f worst=%s:%.2f bandwidth=%.2f fresh_sample_ratio=%.2f" % (
        geomean(rows.values()), worst, rows[worst], go["memcpy_gather256"] / go["memory_uniform_into"],
        py["memory_uniform"] / go["memory_uniform"]))


def rewardmodel(go, py, allocs):
    k = "rm_step"
    print("reward-model training step (1024 pairs): go %.1f ms  torch %.1f ms  allocs %d" % (go[k], py[k], allocs.get(k, -1)))
    print("RESULT rewardmodel ratio=%.2f go_ms=%.1f torch_ms=%.1f go_allocs=%d" % (py[k] / go[k], go[k], py[k], allocs.get(k, -1)))


def nn(go, py, allocs):
    rows = {k: py[k] / go[k] for k in go if not k.startswith("@")}
    for k in rows:
        print("%-20s go %10.2f ms  torch %10.2f ms  ratio %5.2f  allocs %d" % (k, go[k], py[k], rows[k], allocs.get(k, -1)))
    gg = "n/a"
    if "@gorgonia_mlp_step" in go and "mlp_step" in py:
        t = go["@gorgonia_mlp_step"]
        print("%-20s gorgonia %4.2f ms  torch %10.2f ms  ratio %5.2f  allocs %d" % ("mlp_step", t, py["mlp_step"], py["mlp_step"] / t, allocs.get("gorgonia_mlp_step", -1)))
        gg = "%.2f" % (py["mlp_step"] / t)
    print("RESULT nn ratio=%.2f %s gorgonia_mlp_step=%s" % (geomean(rows.values()), " ".join("%s=%.2f" % kv for kv in rows.items()), gg))


if __name__ == "__main__":
    {"tensordict": tensordict, "replaybuffer": replaybuffer, "nn": nn, "rewardmodel": rewardmodel}[sys.argv[1]](*load(sys.argv[2]))
