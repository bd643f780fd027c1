"""The one place that decides sizes, epochs, data source, weights and fast mode.

Everything is read from environment variables, so a teacher or CI can change it
without touching a notebook:

=======================  ==========================================================
``COURSE_FAST``          ``1``: fast mode (small photo subset, 96 px, few epochs).
``COURSE_DATA_DIR``      a folder in the ``flower_photos/<class>/*.jpg`` layout;
                         unset: TFDS ``tf_flowers`` (downloads on first use).
``COURSE_WEIGHTS``       a MobileNetV2 ``no_top`` ``.h5`` weights file;
                         unset: ``imagenet`` (Keras downloads on first use).
``COURSE_HOME``          where progress, caches and saved models go
                         (default ``~/.transfer_course``).
``COURSE_PROGRESS_FILE`` the quiz progress file (default ``$COURSE_HOME/progress.json``).
``COURSE_IMAGE_SIZE``    override the image size (96, 128, 160, 192 or 224).
``COURSE_PER_CLASS``     override the number of photos per class (0 = all).
``COURSE_CACHE_MB``      memory for cached activations (default 1536 MB).
=======================  ==========================================================
"""
import os
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import CourseError
from .messages import t

SEED = 42
SPLIT_RATIOS = (0.8, 0.1, 0.1)  # train / validation / test, stratified per class
IMAGE_SIZES = (96, 128, 160, 192, 224)
IMAGE_SIZE, FAST_IMAGE_SIZE = 224, 96  # MobileNetV2's ImageNet size; fast mode's
BATCH_SIZE = 32  # photos per paczka, in training and in prediction
FAST_PER_CLASS = 20  # photos per class in fast mode (full mode: all)
FE_EPOCHS, FAST_FE_EPOCHS = 10, 10  # feature-extraction epochs (cached: fast mode's 10 take well under a second;
# with 3, fast mode's saved model was at 26-46% on unseen photos, too close to chance to check)
FT_EPOCHS, FAST_FT_EPOCHS = 10, 2  # fine-tuning epochs
UNFREEZE_LAST = 20  # the source's fine-tuning depth: the last 20 layers of the base
HEAD_LR = 1e-3  # Adam's default, as in the source's feature extraction
FINE_TUNE_LR = 1e-5  # the source's fine-tuning learning rate
CACHE_MB = 1536  # memory for cached activations
MALLOC_ARENAS = 2  # glibc malloc arenas: course_utils.memory (scripts), `make lab` (kernels); env wins
ONEDNN_OPTS = True  # TensorFlow's oneDNN CPU kernels on x86-64 (backend.enable_onednn; env wins; bench_onednn.py)
FREEZE_LAB_LEARNING_RATES = (1e-3, 1e-4, 1e-5)  # the learning rates FreezeLab offers (lessons 02, 06)
SWEEP_LEARNING_RATES = (1e-2, 1e-3, 1e-4, 1e-5)  # the learning-rate experiment (experiments)
SWEEP_MICRO_BATCHES = 4  # it trains the whole base: each batch of 32 in 4 slices of 8 (same updates, less memory:
# benchmarks/bench_micro_batches.py)
HEAD_LAYER = "predictions"  # the classification head's Dense layer (model.add_head)
POOL_LAYER = "global_avg_pool"  # the head's pooling layer, the features' source
# The offline assets (photos, weights), relative to the repository root; the Makefile and
# the tests ask offline_assets() for them; .ci/run spells ../shared itself.
SHARED_DIR = Path("..", "shared")
SHARED_PHOTOS = Path("data", "flower_photos")
SHARED_WEIGHTS = Path("models", "mobilenet_v2_1.0_224_imagenet_no_top.h5")

# lesson 10 (own photos, small data, export): the rules and defaults in one place
OWN_MIN_CLASSES = 2  # fewer classes is not a classification
OWN_MAX_CLASSES = 10  # the upload studio's limit
OWN_MIN_PER_CLASS = 5  # every class needs at least this many photos (lesson 10 and `train`)
SMALL_DATA_PER_CLASS = 50  # below this many photos in the smallest class: k-fold estimate, final model on all
SMALL_DATA_FOLDS = 5  # k of the k-fold estimate (fewer when a class has fewer photos)
SMALL_DATA_MIN_STEPS = 300  # head training: at least this many weight updates, whatever the epochs
SMALL_DATA_FAST_MIN_STEPS = 150  # the same in fast mode
DEMO_CLASSES = ("daisy", "roses", "sunflowers")  # lesson 10's demo when the learner has no photos yet
DEMO_PER_CLASS = 15  # demo photos per class (fast mode: 8)
DEMO_FAST_PER_CLASS = 8

# fine-tuning search (issue 18): depth x learning rate, chosen on validation (course_utils.tuning)
TUNE_DEPTHS = (20, 38, 56)  # last layers of the base unfrozen; each starts a MobileNetV2 block (15, 13, 11)
TUNE_LEARNING_RATES = (1e-5, 1e-4, 3e-4)  # the source's rate, ten times it, and a higher one
TUNE_MAX_EPOCHS, TUNE_FAST_MAX_EPOCHS = 6, 2  # epochs per run at most (early stopping may end it sooner)
TUNE_PATIENCE, TUNE_FAST_PATIENCE = 1, 1  # epochs without a better validation accuracy before a run stops
TUNE_FAST_DEPTHS = (20, 56)  # fast mode: a 2 x 2 grid
TUNE_FAST_LEARNING_RATES = (1e-5, 1e-4)
TUNE_PRUNE_AFTER = 2  # from this epoch on, a run far behind the best run so far stops ...
TUNE_PRUNE_MARGIN = 0.03  # ... when its best validation accuracy is more than this share below it
TUNE_RECIPE_DEPTHS = (20, 38)  # train --recipe tuned: the corner of the grid above that the 3 x 3 search chose from
TUNE_RECIPE_LEARNING_RATES = (1e-4, 3e-4)  # on split seeds 42, 1 and 2 (benchmarks/README.md); fast mode: TUNE_FAST_*
TUNE_MIRROR_EPOCHS, TUNE_FAST_MIRROR_EPOCHS = 6, 2  # the chosen configuration trained again on the training
# photos plus their mirror images (cached; final_runs.train_mirrored)
TUNE_MIRROR_DECAY = True  # that run's learning rate falls from the chosen one to 0 along half a cosine
TUNE_MIRROR_KEEP_LAST = True  # that run keeps its last epoch (False: its best validation epoch); chosen on validation
# halves of split seeds 5, 6, 7 (benchmarks/README.md)
TUNE_MIRROR = True  # python -m course_utils train --recipe tuned: that mirrored final run (--no-mirror: off)
TUNE_MIRROR_CROPS = 0  # that run's training photos also hold this many random crops of each (cached like the mirrors);
# 1 crop (4 epochs, as many updates) on split seeds 5, 6, 7: validation 94.76% against 94.65%, ~90 s more: not used
TUNE_CROP_LOW = 0.7  # a crop's side: a uniform share of the photo's side between this and 1 (final_runs.crop_copies)
AUGMENT_FLIP, AUGMENT_ROTATION, AUGMENT_ZOOM = "horizontal", 0.1, 0.1  # lesson 05's augmentation layers


@dataclass(frozen=True)
class Settings:
    """All knobs of the course in one immutable object."""

    fast: bool
    image_size: int
    batch_size: int
    fe_epochs: int
    ft_epochs: int
    unfreeze_last: int
    head_lr: float
    fine_tune_lr: float
    per_class: int | None
    data_dir: Path | None
    weights: str
    home: Path
    progress_file: Path
    cache_mb: int = CACHE_MB
    seed: int = SEED
    split_ratios: tuple = SPLIT_RATIOS

    @property
    def data_source(self):
        """Human-readable name of the data source."""
        return f"folder {self.data_dir}" if self.data_dir else "TFDS tf_flowers"

    @property
    def cache_dir(self):
        """Folder for decoded photos and cached features."""
        return self.home / "cache"

    @property
    def models_dir(self):
        """Folder where lessons save trained models for later lessons."""
        return self.home / "models"

    def with_(self, **changes):
        """Return a copy with some fields changed."""
        return replace(self, **changes)


def _flag(name, default=False):
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    if value.lower() in ("1", "true", "yes", "tak"):
        return True
    if value.lower() in ("0", "false", "no", "nie"):
        return False
    raise CourseError(t("config.bad_flag", name=name, value=value))


def _int(name, default, minimum=0):
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise CourseError(t("config.bad_int", name=name, value=value)) from None
    if number < minimum:
        raise CourseError(t("config.too_small", name=name, value=value, minimum=minimum))
    return number


def _path(name):
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def get_settings(fast=None):
    """Read the settings from the environment; ``fast=True/False`` overrides the mode."""
    fast = (_flag("COURSE_FAST") or _flag("CI")) if fast is None else fast
    home = _path("COURSE_HOME") or Path.home() / ".transfer_course"
    per_class = _int("COURSE_PER_CLASS", FAST_PER_CLASS if fast else 0) or None
    weights = os.environ.get("COURSE_WEIGHTS", "").strip() or "imagenet"
    return Settings(
        fast=fast,
        image_size=_int("COURSE_IMAGE_SIZE", FAST_IMAGE_SIZE if fast else IMAGE_SIZE),
        batch_size=BATCH_SIZE,
        fe_epochs=FAST_FE_EPOCHS if fast else FE_EPOCHS,
        ft_epochs=FAST_FT_EPOCHS if fast else FT_EPOCHS,
        unfreeze_last=UNFREEZE_LAST,
        head_lr=HEAD_LR,
        fine_tune_lr=FINE_TUNE_LR,
        per_class=per_class,
        data_dir=_path("COURSE_DATA_DIR"),
        weights=weights,
        home=home,
        progress_file=_path("COURSE_PROGRESS_FILE") or home / "progress.json",
        cache_mb=_int("COURSE_CACHE_MB", CACHE_MB, minimum=1),
    )


def offline_assets(repo):
    """``(photos folder, weights file)`` where the offline assets lie beside the checkout at ``repo``."""
    shared = (Path(repo) / SHARED_DIR).resolve()
    return shared / SHARED_PHOTOS, shared / SHARED_WEIGHTS


def _version(package):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return t("config.not_installed")


def describe_setup(settings=None):
    """A short report (Polish) of versions, data source, weights and mode, for lesson 00."""
    import platform

    s = settings or get_settings()
    packages = ("tensorflow", "keras", "tensorflow-datasets", "ipywidgets", "jupyterlab", "matplotlib")
    lines = [t("config.report_python", version=platform.python_version())]
    lines += [f"  {name}: {_version(name)}" for name in packages]
    if s.data_dir:
        state = t("config.ok") if s.data_dir.is_dir() else t("config.missing")
        lines.append(t("config.report_data_dir", path=s.data_dir, state=state))
    else:
        lines.append(t("config.report_data_tfds"))
    if s.weights == "imagenet":
        lines.append(t("config.report_weights_download"))
    else:
        state = t("config.ok") if Path(s.weights).is_file() else t("config.missing")
        lines.append(t("config.report_weights_file", path=s.weights, state=state))
    mode = t("config.mode_fast") if s.fast else t("config.mode_full")
    lines.append(t("config.report_mode", mode=mode, size=s.image_size,
                   per_class=s.per_class or t("config.all"), fe=s.fe_epochs, ft=s.ft_epochs))
    lines.append(t("config.report_home", path=s.home, progress=s.progress_file))
    return "\n".join(lines)
