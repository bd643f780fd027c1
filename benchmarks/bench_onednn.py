"""TensorFlow's oneDNN CPU kernels off against on, for the course's two heavy steps, side by side.

TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once, when it loads, and turns oneDNN on by itself
only on CPUs with AVX-512 VNNI / BF16 or AMX; elsewhere (this course's AVX2 machines, AMD
laptops) it stays off unless asked. ``course_utils`` asks on x86-64 (``config.ONEDNN_OPTS``). Each
repetition starts one fresh process per setting, in alternating order, on the same photos and
weights, and measures milliseconds per photo of:

* **forward**: the frozen base's one pass over the training and validation photos that caches
  every boundary (``tuning.cache_depths``: what feature extraction and the search pay once);
* **fine-tune d20 / d38**: one cached fine-tuning epoch with the last 20 / 38 layers unfrozen
  (the tuned recipe's two depths), validation included.

It prints each run, the median ratio off / on per step, and the load average; writes JSON (``--out``,
default ``benchmarks/results/onednn.json``). ::

    .venv/bin/python benchmarks/bench_onednn.py                  # 3 repetitions, 120 photos per class
    .venv/bin/python benchmarks/bench_onednn.py --quick          # smoke check
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench_transfer import DEFAULT_DATA, DEFAULT_WEIGHTS
from bench_tuned import load_average

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "onednn.json"
STEPS = ("forward", "d20", "d38")
QUICK = ["--repeats", "1", "--per-class", "12", "--image-size", "96"]


def measure(args):
    """In this process (oneDNN as the environment says): ms per photo of each step."""
    import time

    import keras

    from course_utils import training
    from course_utils.data import load_flowers
    from course_utils.model import build_model
    from course_utils.tuning import cache_depths

    data = load_flowers(args.data_dir, image_size=args.image_size, per_class=args.per_class, seed=args.seed)
    keras.utils.set_random_seed(args.seed)
    model, base = build_model(data.num_classes, args.image_size, args.weights)
    start = time.perf_counter()
    cache_depths(model, base, data, (20, 38), verbose=0)
    result = {"forward": 1000 * (time.perf_counter() - start) / (len(data.y_train) + len(data.y_val))}
    training.train_head_cached(model, data, epochs=2, verbose=0, base=base)
    for depth in (20, 38):
        training.fine_tune_cached(model, base, data, unfreeze=depth, learning_rate=1e-4, epochs=1,
                                  verbose=0, use_compiled=False)  # traces the top model
        start = time.perf_counter()
        training.fine_tune_cached(model, base, data, unfreeze=depth, learning_rate=1e-4, epochs=1,
                                  verbose=0, use_compiled=False)
        result[f"d{depth}"] = 1000 * (time.perf_counter() - start) / len(data.y_train)
    return result


def run_child(flag, args):
    """One fresh process with ``TF_ENABLE_ONEDNN_OPTS=flag``; its measurement."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=flag)
    command = [sys.executable, __file__, "--child", "--data-dir", str(args.data_dir), "--weights",
               str(args.weights), "--per-class", str(args.per_class), "--image-size", str(args.image_size),
               "--seed", str(args.seed)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--per-class", type=int, default=120)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(QUICK + argv if "--quick" in argv else argv)
    if args.child:
        print(json.dumps(measure(args)))
        return 0
    runs = {"0": [], "1": []}
    before = load_average()
    for repeat in range(args.repeats):
        for flag in (("0", "1") if repeat % 2 == 0 else ("1", "0")):
            runs[flag].append(run_child(flag, args))
            print(f"oneDNN {'on ' if flag == '1' else 'off'} " + "  ".join(
                f"{step} {runs[flag][-1][step]:.2f} ms/photo" for step in STEPS), flush=True)
    ratios = {step: statistics.median(off[step] / on[step] for off, on in zip(runs["0"], runs["1"]))
              for step in STEPS}
    print("median ratio off / on: " + "  ".join(f"{step} {ratios[step]:.2f}x" for step in STEPS))
    after = load_average()
    print(f"load average: {before} -> {after}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()},
                                    "load_average_start": before, "load_average_end": after,
                                    "off": runs["0"], "on": runs["1"], "ratio_off_on": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
