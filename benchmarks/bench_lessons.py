"""Every lesson, in order, in a fresh kernel: wall time, the kernel's peak memory, slowest cells.

Each notebook runs top to bottom with nbclient in its own new kernel, all with one course
home (as a learner's run: lesson 05 saves the model that lesson 06 loads). The kernel's peak
resident memory is read inside the kernel at the end (``getrusage`` maximum RSS, the same
figure GNU time reports). Prints a table and writes JSON (``--out``): one entry per lesson
with ``lesson``, ``seconds``, ``peak_rss_mb``, ``slowest_cells`` (index, seconds, first line).
Not a test; run it by hand::

    .venv/bin/python benchmarks/bench_lessons.py            # full settings (~15-20 min)
    .venv/bin/python benchmarks/bench_lessons.py --fast     # fast mode, a quick check
    .venv/bin/python benchmarks/bench_lessons.py --only 00 09
    .venv/bin/python benchmarks/bench_lessons.py --lab-only   # one "Trenuj" click of the lab

``--lab`` (or ``--lab-only``) also times the freeze-depth lab as lesson 06 sets it up: the
full-settings photos, a feature-extraction model trained here with the cached path (which also
caches the activations at the default fine-tuning boundary), ``make_lab_train_fn`` and the real
``FreezeLab`` widget, whose "Trenuj" button is clicked programmatically once per depth in
``--lab-depths`` with ``--lab-epochs`` epochs (JSON ``lab``: seconds per click as the widget
measured it, with the click's best validation accuracy; ``cache`` says whether the activations at
that depth's boundary were already cached, the case of a second click at the same depth).

JSON ``targets`` sets each measurement beside issue 17's limit (``--max-peak-mb`` per lesson,
``--max-series-s`` for a run of every lesson, ``--max-lesson09-s``, ``--max-click-s``): the value,
the limit, whether it is met, by how much it is missed, and what the measurements point at
(the cell that raised a missed peak most with ``--cell-memory``, the slowest cells or lessons).
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_utils.config import MALLOC_ARENAS, offline_assets

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "lessons.json"
PEAK_CELL = ("import resource\n"
             "print(f'PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', flush=True)")


def _seconds(cell):
    """Wall seconds of one executed cell, from the timing nbclient records."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def _peak_kb(cell):
    """The maximum RSS a probe cell printed (its stream may arrive in several pieces)."""
    text = "".join(output.get("text", "") for output in cell.get("outputs", []))
    found = re.search(r"PEAK_RSS_KB\s+(\d+)", text)
    if not found:
        raise RuntimeError("the kernel did not report its peak memory")
    return int(found.group(1))


def run_lesson(path, timeout, top, cell_memory=False):
    """Execute one notebook in a fresh kernel; return its measurements.

    With ``cell_memory`` a probe cell after every code cell reads the peak so far, and the
    lessons' cells that raised the peak most are listed too (``memory_cells``).
    """
    lesson = nbformat.read(path, as_version=4)
    nb = nbformat.v4.new_notebook(metadata=lesson.metadata)
    owners = []  # for each probe: the index of the lesson cell it follows
    for i, cell in enumerate(lesson.cells):
        nb.cells.append(cell)
        if cell_memory and cell.cell_type == "code":
            nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
            owners.append(i)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    cells = [(i, _seconds(c), (c.source.splitlines() or [""])[0][:70])
             for i, c in enumerate(lesson.cells) if c.cell_type == "code"]
    slowest = sorted(cells, key=lambda c: -c[1])[:top]
    result = {"lesson": path.stem, "seconds": round(seconds, 1),
              "peak_rss_mb": round(_peak_kb(nb.cells[-1]) / 1024),
              "slowest_cells": [{"cell": i, "seconds": round(s, 1), "first_line": line}
                                for i, s, line in slowest]}
    if cell_memory:
        peaks = [_peak_kb(c) / 1024 for c in nb.cells if c.source == PEAK_CELL][:-1]
        rises = [(owners[k], peaks[k] - (peaks[k - 1] if k else 0.0)) for k in range(len(peaks))]
        result["memory_cells"] = [{"cell": i, "peak_rise_mb": round(mb), "peak_after_mb": round(peaks[k]),
                                   "first_line": (lesson.cells[i].source.splitlines() or [""])[0][:70]}
                                  for k, (i, mb) in sorted(enumerate(rises), key=lambda r: -r[1][1])[:top]]
    return result


def lab_clicks(depths, epochs):
    """Time one "Trenuj" click of the real FreezeLab per depth (and a second one at the deepest)."""
    from course_utils import training
    from course_utils.data import load_flowers
    from course_utils.model import build_model
    from course_utils.widgets import FreezeLab

    start = time.perf_counter()
    data = load_flowers()
    model, base = build_model(data.num_classes, data.image_size)
    training.train_head_cached(model, data, verbose=0, base=base)  # lesson 05's model, as lesson 06 loads it
    prepare = time.perf_counter() - start
    lab = FreezeLab(model, base, train_fn=training.make_lab_train_fn(model, base, data), epochs=epochs)
    clicks, seen = [], set()
    default = training.unfreeze_boundary(model, base, training.get_settings().unfreeze_last)
    for depth in list(depths) + [max(depths)]:
        boundary = training.unfreeze_boundary(model, base, depth)
        warm = boundary == default or boundary in seen
        seen.add(boundary)
        lab.slider.value = depth
        lab.train_button.click()
        if "❌" in lab.message.value or len(lab.results) != len(clicks) + 1:
            raise RuntimeError(f"the lab's click failed: {lab.message.value}")
        row = lab.results[-1]
        clicks.append({"depth": depth, "epochs": epochs, "seconds": row["seconds"],
                       "best_val_accuracy": round(row["best_val_accuracy"], 4),
                       "cache": "warm" if warm else "cold"})
        print(f"lab click: depth {depth:3d}, {epochs} epochs, activations {clicks[-1]['cache']:4s}: "
              f"{row['seconds']:6.1f} s (best val_accuracy {row['best_val_accuracy']:.1%})", flush=True)
    return {"photos": {"train": len(data.y_train), "val": len(data.y_val)},
            "image_size": data.image_size, "prepare_seconds": round(prepare, 1), "clicks": clicks}


def targets(results, lab, args):
    """Issue 17's targets beside the measurements: each one's value, limit and how far it is missed.

    A missed lesson memory target names the cell that raised the peak most (``--cell-memory``),
    a missed time target the lesson's slowest cells: what to look at first.
    """
    def check(value, limit, **why):
        return {"value": value, "limit": limit, "met": value <= limit,
                "missed_by": None if value <= limit else round(value - limit, 1), **why}

    out = {}
    for r in results:
        cause = (r.get("memory_cells") or [None])[0]
        out[f"peak_rss_mb {r['lesson'][:2]}"] = check(r["peak_rss_mb"], args.max_peak_mb, peak_cell=cause)
    if len(results) == len(sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))):
        total = round(sum(r["seconds"] for r in results), 1)
        out["series_seconds"] = check(total, args.max_series_s,
                                      slowest_lessons=[r["lesson"] for r in
                                                       sorted(results, key=lambda r: -r["seconds"])[:3]])
    for r in results:
        if r["lesson"].startswith("09"):
            out["seconds 09"] = check(r["seconds"], args.max_lesson09_s, slowest_cells=r["slowest_cells"])
    for click in (lab or {}).get("clicks", []):
        out[f"lab_click_seconds depth {click['depth']} ({click['cache']})"] = check(click["seconds"],
                                                                                   args.max_click_s)
    return out


def _environment(args, home):
    """The course's settings for the kernels: offline assets beside the repo, one home, `make lab`'s arenas."""
    env = {"COURSE_HOME": str(home), "MPLBACKEND": "Agg", "COURSE_FAST": "1" if args.fast else "0",
           "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX") or str(MALLOC_ARENAS)}  # as `make lab`
    photos, weights = offline_assets(REPO)  # beside the repo
    if photos.is_dir() and not os.environ.get("COURSE_DATA_DIR"):
        env["COURSE_DATA_DIR"] = str(photos)
    if weights.is_file() and not os.environ.get("COURSE_WEIGHTS"):
        env["COURSE_WEIGHTS"] = str(weights)
    if not args.fast:
        env["CI"] = "false"  # CI=true would switch the kernels to fast mode
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="fast mode (COURSE_FAST=1)")
    parser.add_argument("--only", nargs="*", default=None, help="lesson number prefixes, e.g. 00 09")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--top", type=int, default=3, help="how many slowest cells to list")
    parser.add_argument("--cell-memory", action="store_true",
                        help="also list the cells that raised the kernel's peak memory most")
    parser.add_argument("--lab", action="store_true", help="also time one FreezeLab click per depth")
    parser.add_argument("--lab-only", action="store_true", help="only the FreezeLab clicks, no lessons")
    parser.add_argument("--lab-depths", type=int, nargs="+", default=[20, 54])
    parser.add_argument("--lab-epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--max-peak-mb", type=int, default=2861, help="per lesson (3 GB = 2 861 MiB)")
    parser.add_argument("--max-series-s", type=int, default=900, help="all lessons together")
    parser.add_argument("--max-lesson09-s", type=int, default=480)
    parser.add_argument("--max-click-s", type=int, default=20, help="one FreezeLab click")
    args = parser.parse_args(argv)

    lessons = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        lessons = [p for p in lessons if p.name[:2] in args.only]
    if args.lab_only:
        lessons = []
    results, lab = [], None
    with tempfile.TemporaryDirectory(prefix="course_home_") as home:
        os.environ.update(_environment(args, home))
        for path in lessons:
            result = run_lesson(path, args.timeout, args.top, args.cell_memory)
            results.append(result)
            slow = "; ".join(f"[{c['cell']}] {c['seconds']:.0f} s" for c in result["slowest_cells"])
            print(f"{result['lesson']:28s} {result['seconds']:7.1f} s {result['peak_rss_mb']:6d} MB   {slow}",
                  flush=True)
            for cell in result.get("memory_cells", []):
                print(f"    cell [{cell['cell']}] raised the peak by {cell['peak_rise_mb']} MB "
                      f"to {cell['peak_after_mb']} MB: {cell['first_line']}", flush=True)
        if args.lab or args.lab_only:
            lab = lab_clicks(args.lab_depths, args.lab_epochs)
    total = sum(r["seconds"] for r in results)
    if results:
        print(f"{'all lessons':28s} {total:7.1f} s {max(r['peak_rss_mb'] for r in results):6d} MB (highest peak)")
    out = {"fast": args.fast, "lessons": results, "total_seconds": round(total, 1),
           "load_average": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None}
    if lab is not None:
        out["lab"] = lab
    out["targets"] = targets(results, lab, args)
    for name, target in out["targets"].items():
        if not target["met"]:
            print(f"target missed: {name} = {target['value']} (limit {target['limit']}, "
                  f"over by {target['missed_by']})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print("JSON:", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
