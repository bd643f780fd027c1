"""Naive vs cached transfer learning on the same photos and split, side by side.

Naive (the source notebook's loop): ``model.fit`` through the frozen base for
the feature-extraction epochs, then ``unfreeze_last(base, 20)``, recompile with
Adam(1e-5) and ``model.fit`` again for the fine-tuning epochs.
Cached (the course): :func:`course_utils.training.train_head_cached` and
:func:`course_utils.training.fine_tune_cached`.

Both start from the same initial weights. For each phase it prints wall
seconds, photos/s (training photos x epochs / seconds), peak RSS during the
phase and test accuracy, plus the speed-ups, and writes JSON (``--out``).
This is not a test: run it by hand, e.g. ::

    .venv/bin/python benchmarks/bench_transfer.py                  # full settings
    .venv/bin/python benchmarks/bench_transfer.py --per-class 40 --image-size 96 \\
        --fe-epochs 2 --ft-epochs 2                                # quick check
"""
import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from course_utils import config

SHARED_PHOTOS, SHARED_WEIGHTS = config.offline_assets(Path(__file__).resolve().parents[1])
DEFAULT_DATA, DEFAULT_WEIGHTS = str(SHARED_PHOTOS), str(SHARED_WEIGHTS)  # the offline assets beside the repo
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


class PeakRSS:
    """Sample this process' resident memory in a thread; report the peak of a phase."""

    def __init__(self, interval=0.05):
        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self.overall = self.peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            rss = self.process.memory_info().rss
            self.peak = max(self.peak, rss)
            self.overall = max(self.overall, rss)

    def reset(self):
        self.peak = self.process.memory_info().rss

    def stop(self):
        self._stop.set()
        self._thread.join()


def timed(fn, rss):
    rss.reset()
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start, rss.peak / 2**20


def repeated(fn, rss, repeats, before):
    """Run ``before(); fn()`` ``repeats`` times: (last result, median seconds, peak MB, all seconds).

    A short cached phase is repeated so that one stall of the shared machine does
    not decide a ratio; the naive loop runs once.
    """
    runs = []
    for _ in range(repeats):
        before()
        runs.append(timed(fn, rss))
    seconds = [r[1] for r in runs]
    return runs[-1][0], float(np.median(seconds)), max(r[2] for r in runs), seconds


def accuracy(model, dataset, labels):
    probs = model.predict(dataset, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == labels))


# The targets (full photos, 224 px, 10 + 10 epochs): result key -> (rule, bound).
TARGETS = {
    "fe_speedup": (">=", 8.0),
    "fe_vs_one_forward_pass": ("<=", 1.3),
    "ft_speedup": (">=", 3.0),
    "fe_accuracy_gap_points": ("<=", 1.0),
    "ft_accuracy_gap_points": ("<=", 1.0),
    "full_pipeline_seconds": ("<", 180.0),
    "peak_rss_mb": ("<", 3e9 / 2**20),  # 3 GB in MiB
    "fe_test_accuracy": (">=", 0.90),
    "ft_test_accuracy": (">=", 0.93),
}


def check_targets(results):
    """``{name: {value, rule, met}}`` for every target whose value this run measured."""
    values = dict(results)
    for phase in ("fe", "ft"):
        naive = results.get(f"naive_{phase}_test_accuracy")
        if naive is not None:
            values[f"{phase}_accuracy_gap_points"] = 100 * abs(
                results[f"{phase}_test_accuracy"] - naive)
    checked = {}
    for name, (rule, bound) in TARGETS.items():
        if name not in values:
            continue
        value = float(values[name])
        met = {">=": value >= bound, "<=": value <= bound, "<": value < bound}[rule]
        checked[name] = {"value": value, "rule": f"{rule} {bound:.4g}", "met": bool(met)}
    return checked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COURSE_DATA_DIR", DEFAULT_DATA))
    parser.add_argument("--weights", default=os.environ.get("COURSE_WEIGHTS", DEFAULT_WEIGHTS))
    parser.add_argument("--per-class", type=int, default=0, help="photos per class (0 = all)")
    parser.add_argument("--image-size", type=int, default=config.IMAGE_SIZE)
    parser.add_argument("--fe-epochs", type=int, default=config.FE_EPOCHS)
    parser.add_argument("--ft-epochs", type=int, default=config.FT_EPOCHS)
    parser.add_argument("--unfreeze", type=int, default=config.UNFREEZE_LAST)
    parser.add_argument("--fe-lr", type=float, default=config.HEAD_LR)
    parser.add_argument("--ft-lr", type=float, default=config.FINE_TUNE_LR)
    parser.add_argument("--seed", type=int, default=config.SEED)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the floor pass and of each cached phase (median reported)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    import keras

    from course_utils import training
    from course_utils.data import load_flowers
    from course_utils.model import build_model, freeze, unfreeze_last

    rss = PeakRSS()
    results = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    start = time.perf_counter()
    data = load_flowers(args.data_dir, image_size=args.image_size,
                        per_class=args.per_class or None, seed=args.seed)
    load_s = time.perf_counter() - start
    n_train, n_val, n_test = len(data.y_train), len(data.y_val), len(data.y_test)
    print(data.summary(), flush=True)
    results.update(n_train=n_train, n_val=n_val, n_test=n_test)

    keras.utils.set_random_seed(args.seed)
    start = time.perf_counter()
    model, base = build_model(data.num_classes, args.image_size, args.weights)
    build_s = time.perf_counter() - start
    initial = model.get_weights()
    results.update(load_seconds=load_s, build_model_seconds=build_s)

    # The floor: one inference pass of the frozen model over the train + val photos
    # (what the cached feature extraction has to compute once), run the fastest way we
    # have; Keras' own ``predict`` over the tf.data pipeline is timed once for reference.
    def forward_once():
        for split in ("train", "val"):
            training.run_on_photos(model, data.split(split)[0])

    def keras_predict():
        for split in ("train", "val"):
            model.predict(data.dataset(split, shuffle=False, batch_size=config.BATCH_SIZE), verbose=0)
    _, predict_s, _ = timed(keras_predict, rss)

    def fresh_start():  # the same initial weights and an empty cache for every FE run
        model.set_weights(initial)
        freeze(base)
        training.clear_cache(data)
        keras.utils.set_random_seed(args.seed)

    def feature_extraction():
        return training.train_head_cached(
            model, data, epochs=args.fe_epochs, learning_rate=args.fe_lr, base=base,
            cache_unfreeze=args.unfreeze, seed=args.seed, verbose=0)

    # Floor and cached FE alternate, so that each pair sees the same state of a shared
    # machine; the FE / floor ratio is the median of the pairs' ratios.
    forward_runs, fe_runs, fe_peak = [], [], 0.0
    for _ in range(args.repeats):
        forward_runs.append(timed(forward_once, rss)[1])
        fresh_start()
        _, seconds, peak = timed(feature_extraction, rss)
        fe_runs.append(seconds)
        fe_peak = max(fe_peak, peak)
    forward_s, fe_s = float(np.median(forward_runs)), float(np.median(fe_runs))
    fe_ratio = float(np.median([f / w for f, w in zip(fe_runs, forward_runs)]))
    results.update(one_forward_pass_seconds=forward_s, one_forward_pass_runs=forward_runs,
                   keras_predict_seconds=predict_s)
    print(f"one forward pass (train+val, {n_train + n_val} photos): {forward_s:.1f} s "
          f"({(n_train + n_val) / forward_s:.0f} photos/s; median of "
          f"{', '.join(f'{x:.1f}' for x in forward_runs)} s); "
          f"Keras predict: {predict_s:.1f} s", flush=True)

    def report(name, seconds, epochs, peak, acc):
        photos_s = n_train * epochs / seconds
        print(f"{name:22s} {seconds:8.1f} s {photos_s:9.0f} photos/s {peak:8.0f} MB "
              f"test acc {acc:.4f}", flush=True)

    test_ds = data.dataset("test", shuffle=False)
    # ---------------------------------------------------------------- cached
    fe_eval, fe_eval_s, _ = timed(lambda: training.evaluate_cached(
        model, data, "test", base=base, cache_unfreeze=args.unfreeze), rss)
    fe_acc = fe_eval["accuracy"]
    fe_full_acc = accuracy(model, test_ds, data.y_test)  # cross-check, not timed
    report("cached FE", fe_s, args.fe_epochs, fe_peak, fe_acc)
    print(f"  runs: {', '.join(f'{x:.1f}' for x in fe_runs)} s (median above)", flush=True)
    after_fe = model.get_weights()

    def from_fe():  # every FT run starts from the feature-extraction weights
        model.set_weights(after_fe)
        freeze(base)
        keras.utils.set_random_seed(args.seed)

    _, ft_s, ft_peak, ft_runs = repeated(lambda: training.fine_tune_cached(
        model, base, data, unfreeze=args.unfreeze, learning_rate=args.ft_lr,
        epochs=args.ft_epochs, seed=args.seed, verbose=0), rss, args.repeats, from_fe)
    ft_eval, ft_eval_s, _ = timed(lambda: training.evaluate_cached(model, data, "test"), rss)
    pipeline_s = load_s + build_s + fe_s + fe_eval_s + ft_s + ft_eval_s
    ft_acc = ft_eval["accuracy"]
    ft_full_acc = accuracy(model, test_ds, data.y_test)
    report("cached FT", ft_s, args.ft_epochs, ft_peak, ft_acc)
    print(f"  runs: {', '.join(f'{x:.1f}' for x in ft_runs)} s (median above)", flush=True)
    results.update(fe_seconds=fe_s, ft_seconds=ft_s, fe_test_accuracy=fe_acc,
                   ft_test_accuracy=ft_acc, fe_eval_seconds=fe_eval_s, ft_eval_seconds=ft_eval_s,
                   fe_test_accuracy_full_model=fe_full_acc,
                   ft_test_accuracy_full_model=ft_full_acc,
                   full_pipeline_seconds=pipeline_s,
                   fe_vs_one_forward_pass=fe_ratio,
                   fe_peak_rss_mb=fe_peak, ft_peak_rss_mb=ft_peak,
                   fe_runs_seconds=fe_runs, ft_runs_seconds=ft_runs)
    results["peak_rss_mb"] = rss.overall / 2**20  # the course's pipeline (and the floor pass)
    print(f"cached pipeline (load photos + build model + FE + test eval + FT + test eval): "
          f"{pipeline_s:.1f} s (loading {load_s:.1f} s); peak RSS {results['peak_rss_mb']:.0f} MB; "
          f"FE = {fe_ratio:.2f} x one forward pass (median of the pairs)", flush=True)
    training.clear_cache(data)

    # ---------------------------------------------------------------- naive
    if not args.skip_naive:
        keras.utils.set_random_seed(args.seed)
        naive, naive_base = build_model(data.num_classes, args.image_size, args.weights)
        naive.set_weights(initial)

        def naive_phase(name, learning_rate, epochs):
            """The source's step: (re)compile, then model.fit through the whole network."""
            naive.compile(optimizer=keras.optimizers.Adam(learning_rate),
                          loss="categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
            _, seconds, peak = timed(lambda: naive.fit(
                data.train, validation_data=data.val, epochs=epochs, verbose=0), rss)
            acc = accuracy(naive, test_ds, data.y_test)
            report(name, seconds, epochs, peak, acc)
            return seconds, peak, acc

        nfe_s, nfe_peak, nfe_acc = naive_phase("naive FE", args.fe_lr, args.fe_epochs)
        unfreeze_last(naive_base, args.unfreeze)
        nft_s, nft_peak, nft_acc = naive_phase("naive FT", args.ft_lr, args.ft_epochs)
        results.update(naive_fe_seconds=nfe_s, naive_ft_seconds=nft_s,
                       naive_fe_test_accuracy=nfe_acc, naive_ft_test_accuracy=nft_acc,
                       naive_fe_peak_rss_mb=nfe_peak, naive_ft_peak_rss_mb=nft_peak,
                       fe_speedup=nfe_s / fe_s, ft_speedup=nft_s / ft_s)
        print(f"speed-up: FE {nfe_s / fe_s:.1f}x, FT {nft_s / ft_s:.1f}x; "
              f"accuracy delta (cached - naive): FE {100 * (fe_acc - nfe_acc):+.1f} pt, "
              f"FT {100 * (ft_acc - nft_acc):+.1f} pt", flush=True)

    rss.stop()
    results["targets"] = check_targets(results)
    for name, target in results["targets"].items():
        print(f"target {name:34s} {target['value']:10.3f} {target['rule']:8s} "
              f"{'met' if target['met'] else 'MISSED'}")
    results["run_peak_rss_mb"] = rss.overall / 2**20
    print(f"peak RSS (whole run, naive loop included): {results['run_peak_rss_mb']:.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
