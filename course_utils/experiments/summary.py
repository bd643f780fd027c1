"""Experiment 5, the summary: verdicts on the promises, derived from the measured numbers."""

from ..backend import import_tensorflow

import_tensorflow()

from ..config import get_settings
from ..messages import t


def _by_kind(curves, kind):
    return next((c for c in curves if c.kind == kind), None)


def verdicts(curves, curve, runs, rows):
    """``[(promise, measured, verdict_ok)]`` for the summary table, computed from the results.

    ``verdict_ok`` is None where the measurement cannot decide (task mismatch with
    a stronger from-scratch baseline on the far task).
    """
    out = []
    scratch, fe, ft, rnd = (_by_kind(curves, k) for k in ("scratch", "fe", "ft", "random"))
    if scratch and fe:
        target = scratch.best_val
        fe_time, sc_time = fe.seconds_to(target), scratch.seconds_to(target)
        ok = fe_time is not None and fe_time < sc_time
        fe_text = (t("experiments.sum_fast_reached", seconds=fe_time) if fe_time is not None
                   else t("experiments.sum_fast_never"))
        out.append((t("experiments.promise_fast"),
                    t("experiments.sum_fast", target=target, sc=sc_time, fe=fe_text), ok))
    if curve is not None:
        fe_m, sc_m = curve.mean("fe"), curve.mean("scratch")
        catch = next((curve.where(i) for i in range(len(sc_m)) if sc_m[i] >= fe_m[0]), None)
        catch_text = (t("experiments.sum_data_catch", size=catch) if catch
                      else t("experiments.sum_data_never"))
        out.append((t("experiments.promise_data"),
                    t("experiments.sum_data", size=curve.where(0), fe=fe_m[0], sc=sc_m[0],
                      catch=catch_text), bool(fe_m[0] > sc_m[0])))
    if scratch and fe:
        best_tl = max([c for c in (fe, ft) if c], key=lambda c: c.test_accuracy)
        others = [c for c in (scratch, rnd) if c]
        best_other = max(others, key=lambda c: c.test_accuracy)
        out.append((t("experiments.promise_accuracy"),
                    t("experiments.sum_accuracy", tl=best_tl.label, tl_acc=best_tl.test_accuracy,
                      other=best_other.label, other_acc=best_other.test_accuracy),
                    best_tl.test_accuracy > best_other.test_accuracy))
    if runs:
        high, low = max(runs, key=lambda r: r.learning_rate), min(runs, key=lambda r: r.learning_rate)
        best = max(runs, key=lambda r: r.val_accuracy[-1])
        ok = high.val_accuracy[-1] < best.val_accuracy[-1] and high.distance > low.distance
        out.append((t("experiments.promise_lr"),
                    t("experiments.sum_lr", high=high.learning_rate, high_acc=high.val_accuracy[-1],
                      best=best.learning_rate, best_acc=best.val_accuracy[-1],
                      high_dist=high.distance, low=low.learning_rate, low_dist=low.distance), ok))
    if len(rows) >= 2:
        near, far = rows[0], rows[1]
        ok = near.advantage > far.advantage
        # a larger gain on the near task says nothing about distance when the far task is
        # simply easier from scratch: the two effects are mixed, so no verdict
        if ok and far.scratch.mean() > near.scratch.mean():
            ok = None
        out.append((t("experiments.promise_similar"),
                    t("experiments.sum_similar", near=near.task, near_gain=100 * near.advantage,
                      far=far.task, far_gain=100 * far.advantage,
                      near_fe=near.pretrained.mean(), far_fe=far.pretrained.mean(),
                      near_sc=near.scratch.mean(), far_sc=far.scratch.mean()), ok))
    return out


def summary_markdown(curves=(), curve=None, runs=(), rows=(), settings=None):
    """A Markdown table: each promise, what this run measured, and whether the numbers support it."""
    s = settings or get_settings()
    mode = t("config.mode_fast") if s.fast else t("config.mode_full")
    lines = [t("experiments.sum_header", mode=mode, size=s.image_size), "",
             t("experiments.sum_columns"), "|---|---|---|"]
    for promise, measured, ok in verdicts(list(curves), curve, list(runs), list(rows)):
        verdict = t("experiments.verdict_mixed" if ok is None
                    else "experiments.verdict_yes" if ok else "experiments.verdict_no")
        lines.append(f"| {promise} | {measured} | {verdict} |")
    if s.fast:
        lines += ["", t("experiments.sum_fast_caveat")]
    return "\n".join(lines)
