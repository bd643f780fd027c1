"""The source's fine-tuning recipe against the tuned one (validation search), over split seeds.

For each ``--seeds`` value the photos are split with that seed; one forward pass of the frozen
base caches the pooled features and the activations at every searched depth's boundary; the
head is trained on the features (feature extraction, ``--fe-epochs``). From those same head
weights:

* **source**: the last ``--unfreeze`` layers at Adam(``--source-lr``) for ``--ft-epochs`` epochs
  (the lessons' recipe, :func:`course_utils.training.fine_tune_cached`);
* **tuned**: :func:`course_utils.tuning.search_fine_tuning` over ``--depths`` x ``--lrs``
  (early stopping on validation, ``--max-epochs``, ``--patience``); the chosen run's weights are
  the final model, judged once on the test split;
* **mirrored**: the tuned choice trained again from the same head weights on the training photos
  plus their mirror images (and ``--mirror-crops`` random crops of each), still on the cache
  (:func:`course_utils.final_runs.train_mirrored`, ``--mirror-epochs``, the rate falling to 0 along half
  a cosine unless ``--no-mirror-decay``, the last epoch kept with ``--mirror-keep-last``, the best
  validation epoch with ``--no-mirror-keep-last``; default ``config.TUNE_MIRROR_KEEP_LAST``): what
  ``python -m course_utils train --recipe tuned`` does by default;
* **augmented** (seeds in ``--augment-seeds``): the tuned choice trained again from the same head
  weights with lesson 05's augmentation (:func:`course_utils.final_runs.train_augmented`, the full
  forward pass every epoch; ``--augment-epochs`` at most, the same patience).

Each recipe's entry also holds ``val_flip_averaged`` and ``test_flip_averaged``: the accuracy when
a photo's class probabilities are averaged with those of its mirror image (:func:`flip_averaged_accuracy`),
measured, not used by any recipe.

It prints a table (test accuracy per seed with its 95% Wilson interval, the chosen configuration,
the search's wall seconds and the mirrored pipeline's: forward pass, feature extraction, search and
mirrored run), the mean / min / max per recipe and the load
average, and writes JSON (``--out``, default ``benchmarks/results/tuned.json``). Not a test: the
full settings take several minutes per seed on 2 CPU cores. ::

    .venv/bin/python benchmarks/bench_tuned.py                 # seeds 42 1 2, all photos, 224 px
    .venv/bin/python benchmarks/bench_tuned.py --quick         # smoke check (~1 min)
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from bench_transfer import DEFAULT_DATA, DEFAULT_WEIGHTS

from course_utils import config

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "tuned.json"
RECIPES = ("source", "tuned", "mirrored", "augmented")
QUICK = ["--seeds", "42", "--per-class", "20", "--image-size", "96", "--fe-epochs", "2",
         "--ft-epochs", "2", "--depths", "20", "56", "--lrs", "1e-5", "1e-4", "--max-epochs", "2",
         "--augment-epochs", "1", "--mirror-epochs", "1"]


def load_average():
    """The 1, 5 and 15 minute load averages (``/proc/loadavg``; None where there is none)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def scored(accuracy, n):
    """A test accuracy with its 95% Wilson interval."""
    from course_utils.experiments import accuracy_interval

    return {"test": float(accuracy), "n_test": int(n), "interval_95": list(accuracy_interval(accuracy, n))}


def summarize(rows, recipe):
    """Mean, minimum and maximum test accuracy of one recipe over the seeds that ran it."""
    tests = [row[recipe]["test"] for row in rows if row.get(recipe)]
    if not tests:
        return None
    return {"mean": float(np.mean(tests)), "min": min(tests), "max": max(tests), "seeds": len(tests)}


def flip_averaged_probs(model, base, data, split):
    """Class probabilities of one split, each photo's averaged with its mirror image's (left to right)."""
    from dataclasses import replace

    from course_utils import training

    photos = data.split(split)[0]
    mirrored = replace(data, **{f"x_{split}": photos[:, :, ::-1]})  # its own activation cache
    return (training.predict_cached(model, data, split, base=base)
            + training.predict_cached(model, mirrored, split, base=base)) / 2


def flip_averaged_accuracy(model, base, data, split):
    """Accuracy on one split of :func:`flip_averaged_probs`."""
    from course_utils.metrics import accuracy

    return accuracy(flip_averaged_probs(model, base, data, split), data.split(split)[1])


def epoch_snapshots(model):
    """A Keras callback that keeps a copy of ``model``'s weights after every epoch (``.weights``); the cached
    path trains a top model that shares ``model``'s layers, so the callback's own ``self.model`` is that top."""
    import keras

    class Snapshots(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append([np.array(w, copy=True) for w in model.get_weights()])

    return Snapshots()


def halves_comparison(val_probs, labels, rounds=50, seed=0):
    """Validation only: which epoch rule of the mirrored run does better on photos it did not choose on.

    ``val_probs``: the validation class probabilities after each epoch. ``rounds`` times the validation
    photos are split into two random halves; on each half, the accuracy of the last epoch and that of the
    epoch with the best accuracy on the *other* half are measured. Returns the mean of each over all
    halves: ``{"last": ..., "best_on_other_half": ...}``.
    """
    hits = np.stack([np.argmax(p, axis=1) == labels for p in val_probs])  # (epochs, photos)
    rng = np.random.default_rng(seed)
    last, best = [], []
    for _ in range(rounds):
        order = rng.permutation(len(labels))
        halves = order[: len(labels) // 2], order[len(labels) // 2:]
        for pick, score in (halves, halves[::-1]):
            chosen = int(np.argmax(hits[:, pick].mean(axis=1)))  # the first best epoch, as EarlyStopping keeps
            last.append(hits[-1, score].mean())
            best.append(hits[chosen, score].mean())
    return {"last": float(np.mean(last)), "best_on_other_half": float(np.mean(best))}


def run_seed(seed, args):
    """One split seed: feature extraction, then the source recipe, the tuned search, the augmented run."""
    import keras

    from course_utils import training
    from course_utils.data import load_flowers
    from course_utils.final_runs import train_augmented, train_mirrored
    from course_utils.metrics import accuracy
    from course_utils.model import build_model
    from course_utils.tuning import cache_depths, search_fine_tuning

    def test_accuracy(model, base):
        return training.evaluate_cached(model, data, "test", base=base)["accuracy"]

    def with_flips(model, base):
        """Validation and test accuracy of the probabilities averaged over each photo and its mirror image."""
        return {f"{split}_flip_averaged": flip_averaged_accuracy(model, base, data, split)
                for split in ("val", "test")}

    start = time.perf_counter()
    data = load_flowers(args.data_dir, image_size=args.image_size, per_class=args.per_class or None,
                        seed=seed)
    load_seconds = time.perf_counter() - start
    keras.utils.set_random_seed(seed)
    model, base = build_model(data.num_classes, args.image_size, args.weights)
    build_seconds = time.perf_counter() - start - load_seconds
    tuned_start = time.perf_counter()
    forward = cache_depths(model, base, data, tuple(args.depths) + (args.unfreeze,), verbose=0)
    training.train_head_cached(model, data, epochs=args.fe_epochs, verbose=0, base=base,
                               cache_unfreeze=args.unfreeze, seed=seed)
    fe_seconds = time.perf_counter() - tuned_start
    head = [np.array(w, copy=True) for w in model.get_weights()]
    n = len(data.y_test)
    row = {"seed": seed, "n_train": len(data.y_train), "n_val": len(data.y_val), "n_test": n,
           "load_seconds": load_seconds, "forward_seconds": forward, "fe_seconds": fe_seconds,
           "fe": scored(test_accuracy(model, base), n)}

    # the tuned recipe first, so its wall time is not inflated by the others' memory
    search_start = time.perf_counter()
    result = search_fine_tuning(model, base, data, tuple(args.depths), tuple(args.lrs), seed=seed,
                                verbose=args.verbose, max_epochs=args.max_epochs, patience=args.patience)
    search_seconds = time.perf_counter() - search_start
    row["tuned"] = {**scored(test_accuracy(model, base), n), **with_flips(model, base), "depth": result.best[0],
                    "learning_rate": result.best[1],
                    "best_epoch": int(result.best_epoch[result.best_index]),
                    "val": result.best_val_accuracy, "search_seconds": search_seconds,
                    # what a learner waits for: one forward pass, feature extraction, the search
                    "pipeline_seconds": fe_seconds + search_seconds,
                    "total_seconds": load_seconds + build_seconds + fe_seconds + search_seconds,
                    "search": result.to_dict()}

    model.set_weights(head)
    snapshots = epoch_snapshots(model)
    final = train_mirrored(model, base, data, *result.best, args.mirror_epochs, seed, args.mirror_decay,
                           args.mirror_keep_last, [snapshots], args.mirror_crops)
    kept = [np.array(w, copy=True) for w in model.get_weights()]
    per_epoch = {"val": [], "test": []}  # each epoch's probabilities: both epoch rules, measured
    for weights in snapshots.weights:
        model.set_weights(weights)
        for split in per_epoch:
            per_epoch[split].append(training.predict_cached(model, data, split, base=base))
    model.set_weights(kept)
    row["mirrored"] = {**scored(test_accuracy(model, base), n), **with_flips(model, base), "depth": result.best[0],
                       "learning_rate": result.best[1], "best_epoch": final["best_epoch"],
                       "kept_epoch": final["kept_epoch"], "keep_last": final["keep_last"],
                       "best_val": final["best_val_accuracy"],
                       "epochs_run": final["epochs_run"], "val": final["val_accuracy"],
                       "n_train": final["n_train"], "seconds": final["seconds"],
                       "val_history": final["history"]["val_accuracy"], "decay": final["decay"],
                       "crops": final["crops"],
                       "test_history": [accuracy(p, data.y_test) for p in per_epoch["test"]],
                       "halves": halves_comparison(per_epoch["val"], np.asarray(data.y_val)),
                       # what --recipe tuned makes a learner wait for, after the photos are loaded
                       "pipeline_seconds": fe_seconds + search_seconds + final["seconds"]}

    model.set_weights(head)
    keras.utils.set_random_seed(seed)
    source_start = time.perf_counter()
    history = training.fine_tune_cached(model, base, data, unfreeze=args.unfreeze,
                                        learning_rate=args.source_lr, epochs=args.ft_epochs,
                                        verbose=0, seed=seed, use_compiled=False)
    row["source"] = {**scored(test_accuracy(model, base), n), **with_flips(model, base), "depth": args.unfreeze,
                     "learning_rate": args.source_lr, "epochs": args.ft_epochs,
                     "val": float(history.history["val_accuracy"][-1]),
                     "seconds": time.perf_counter() - source_start}

    row["augmented"] = None
    if seed in args.augment_seeds:
        model.set_weights(head)
        final = train_augmented(model, base, data, *result.best, args.augment_epochs, args.patience, seed)
        row["augmented"] = {**scored(test_accuracy(model, base), n), "depth": result.best[0],
                            "learning_rate": result.best[1], "best_epoch": final["best_epoch"],
                            "epochs_run": final["epochs_run"], "val": final["val_accuracy"],
                            "seconds": final["seconds"]}
    row["load_average"] = load_average()
    return row


def _cell(entry):
    if not entry:
        return "—"
    low, high = entry["interval_95"]
    return f"{entry['test']:.2%} ({low:.1%}–{high:.1%})"


def table(rows, summary):
    """The Markdown table of the README: one row per seed, then the mean / min / max."""
    lines = ["| split seed | source: test (95% CI) | tuned, search only: test (95% CI) | chosen (val) "
             "| search s | mirrored: test (95% CI) | mirrored: kept epoch (val) | FE + search + mirrored s "
             "| augmented: test (95% CI) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        tuned, mir = row["tuned"], row["mirrored"]
        chosen = (f"last {tuned['depth']}, {tuned['learning_rate']:g}, epoch {tuned['best_epoch']} "
                  f"({tuned['val']:.1%})")
        lines.append(f"| {row['seed']} | {_cell(row['source'])} | {_cell(tuned)} | {chosen} | "
                     f"{tuned['search_seconds']:.0f} | {_cell(mir)} | {mir['kept_epoch']} ({mir['val']:.1%}) | "
                     f"{mir['pipeline_seconds']:.0f} | {_cell(row['augmented'])} |")
    for stat in ("mean", "min", "max"):
        cells = [f"{summary[r][stat]:.2%}" if summary[r] else "—" for r in RECIPES]
        lines.append(f"| **{stat}** | {cells[0]} | {cells[1]} | | | {cells[2]} | | | {cells[3]} |")
    return "\n".join(lines)


def halves_table(rows):
    """Markdown: the mirrored run's two epoch rules, on validation halves (the choice) and on test (the record)."""
    lines = ["| split seed | halves: last epoch | halves: best epoch of the other half | test: last epoch "
             "| test: best validation epoch |", "|---|---|---|---|---|"]
    for row in rows:
        mir = row["mirrored"]
        lines.append(f"| {row['seed']} | {mir['halves']['last']:.2%} | {mir['halves']['best_on_other_half']:.2%} | "
                     f"{mir['test_history'][-1]:.2%} | {mir['test_history'][mir['best_epoch'] - 1]:.2%} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COURSE_DATA_DIR", DEFAULT_DATA))
    parser.add_argument("--weights", default=os.environ.get("COURSE_WEIGHTS", DEFAULT_WEIGHTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[config.SEED, 1, 2])
    parser.add_argument("--per-class", type=int, default=0, help="photos per class (0 = all)")
    parser.add_argument("--image-size", type=int, default=config.IMAGE_SIZE)
    parser.add_argument("--fe-epochs", type=int, default=config.FE_EPOCHS)
    parser.add_argument("--ft-epochs", type=int, default=config.FT_EPOCHS, help="the source recipe's epochs")
    parser.add_argument("--unfreeze", type=int, default=config.UNFREEZE_LAST, help="the source recipe's depth")
    parser.add_argument("--source-lr", type=float, default=config.FINE_TUNE_LR)
    parser.add_argument("--depths", type=int, nargs="+", default=list(config.TUNE_RECIPE_DEPTHS))
    parser.add_argument("--lrs", type=float, nargs="+", default=list(config.TUNE_RECIPE_LEARNING_RATES))
    parser.add_argument("--max-epochs", type=int, default=config.TUNE_MAX_EPOCHS)
    parser.add_argument("--patience", type=int, default=config.TUNE_PATIENCE)
    parser.add_argument("--augment-seeds", type=int, nargs="*", default=None,
                        help="seeds that also run the augmented variant (default: the first seed)")
    parser.add_argument("--augment-epochs", type=int, default=config.TUNE_MAX_EPOCHS)
    parser.add_argument("--mirror-epochs", type=int, default=config.TUNE_MIRROR_EPOCHS)
    parser.add_argument("--mirror-crops", type=int, default=config.TUNE_MIRROR_CROPS,
                        help="random crops of each training photo added to the mirrored run's photos")
    parser.add_argument("--mirror-decay", action=argparse.BooleanOptionalAction, default=config.TUNE_MIRROR_DECAY,
                        help="the mirrored run's learning rate falls to 0 along half a cosine")
    parser.add_argument("--mirror-keep-last", action=argparse.BooleanOptionalAction,
                        default=config.TUNE_MIRROR_KEEP_LAST,
                        help="the mirrored run keeps its last epoch (otherwise its best validation epoch)")
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke check: " + " ".join(QUICK))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(QUICK + argv if "--quick" in argv else argv)  # later options win
    if args.augment_seeds is None:
        args.augment_seeds = args.seeds[:1]

    rows = []
    started = load_average()
    for seed in args.seeds:
        row = run_seed(seed, args)
        rows.append(row)
        print(f"seed {seed}: source {row['source']['test']:.2%}, tuned {row['tuned']['test']:.2%} "
              f"(last {row['tuned']['depth']}, lr {row['tuned']['learning_rate']:g}; "
              f"FE + search {row['tuned']['pipeline_seconds']:.0f} s), mirrored {row['mirrored']['test']:.2%} "
              f"(FE + search + mirrored {row['mirrored']['pipeline_seconds']:.0f} s)"
              + (f", augmented {row['augmented']['test']:.2%}" if row["augmented"] else "")
              + f"; load {row['load_average']}", flush=True)
    summary = {recipe: summarize(rows, recipe) for recipe in RECIPES}
    results = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "load_average_start": started, "load_average_end": load_average(),
               "runs": rows, "summary": summary}
    print(table(rows, summary))
    print(halves_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"JSON: {args.out}")
    return results


if __name__ == "__main__":
    main()
