"""The lesson benchmark's target report: each limit judged on the measurements it is given."""
import argparse
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_lessons  # noqa: E402

LIMITS = argparse.Namespace(max_peak_mb=2861, max_series_s=900, max_lesson09_s=480, max_click_s=20)


def _lesson(name, seconds, peak, memory_cells=None):
    row = {"lesson": name, "seconds": seconds, "peak_rss_mb": peak,
           "slowest_cells": [{"cell": 3, "seconds": seconds / 2, "first_line": "x"}]}
    if memory_cells is not None:
        row["memory_cells"] = memory_cells
    return row


def test_targets_say_what_is_missed_by_how_much_and_where_to_look():
    peak_cell = {"cell": 27, "peak_rise_mb": 900, "peak_after_mb": 3300, "first_line": "lr_data = ..."}
    results = [_lesson("08_pytania", 4.0, 120), _lesson("09_eksperymenty", 700.0, 3300, [peak_cell])]
    lab = {"clicks": [{"depth": 20, "cache": "warm", "seconds": 12.5},
                      {"depth": 54, "cache": "cold", "seconds": 121.8}]}
    got = bench_lessons.targets(results, lab, LIMITS)
    assert got["peak_rss_mb 08"] == {"value": 120, "limit": 2861, "met": True, "missed_by": None, "peak_cell": None}
    assert got["peak_rss_mb 09"]["missed_by"] == 3300 - 2861 and got["peak_rss_mb 09"]["peak_cell"] == peak_cell
    assert got["seconds 09"]["missed_by"] == 220.0 and got["seconds 09"]["slowest_cells"][0]["cell"] == 3
    assert got["lab_click_seconds depth 20 (warm)"]["met"] is True
    assert got["lab_click_seconds depth 54 (cold)"]["missed_by"] == 101.8
    assert "series_seconds" not in got  # two lessons are not the series: not judged


def test_the_series_is_judged_only_when_every_lesson_ran():
    lessons = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results = [_lesson(name, 100.0, 1000) for name in lessons]
    got = bench_lessons.targets(results, None, LIMITS)
    assert got["series_seconds"]["value"] == 100.0 * len(lessons)
    assert got["series_seconds"]["met"] is (100.0 * len(lessons) <= 900)
    assert len(got["series_seconds"]["slowest_lessons"]) == 3
