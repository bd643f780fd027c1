"""tf_flowers as train / validation / test pipelines, from TFDS or a local photo folder.

Both sources give the same result: decoded ``uint8`` photos resized to the
chosen size, labels numbered by the *sorted class names* (daisy, dandelion,
roses, sunflowers, tulips), and the same seeded, stratified 80/10/10 split.
MobileNetV2 preprocessing (pixels to [-1, 1]) happens in exactly one place:
:func:`preprocess`, applied by the ``tf.data`` pipelines and inside
:func:`course_utils.training.run_on_photos`.
"""
import hashlib
import io
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .backend import import_tensorflow
from .config import BATCH_SIZE, OWN_MIN_CLASSES, OWN_MIN_PER_CLASS, SEED, SPLIT_RATIOS, get_settings
from .errors import CourseError
from .messages import photos_word, t

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
TFDS_NAME = "tf_flowers"
DECODE_VERSION = 2  # bump when read_photo decodes differently (2: EXIF orientation applied)


class CourseDataWarning(UserWarning):
    """Photos were skipped (not images, corrupt): the warning names them."""


@dataclass
class FlowerData:
    """Decoded photos of one split each, class names, and ``tf.data`` pipelines."""

    class_names: list
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    names_train: list
    names_val: list
    names_test: list
    source: str
    batch_size: int = BATCH_SIZE
    seed: int = SEED
    label_mode: str = "categorical"
    skipped: list = field(default_factory=list)
    _activations: object = field(default=None, init=False, repr=False, compare=False)
    _train_prefix: object = field(default=None, init=False, repr=False, compare=False)

    def activation_cache(self):
        """The fast paths' in-memory cache of this data's activations (created on first use)."""
        if self._activations is None:
            from .activations import ActivationCache

            self._activations = ActivationCache()
        return self._activations

    def with_training_copies(self, copies):
        """A copy whose training split also holds ``copies`` (``{tag: photos}``, each array row by row the
        training photos changed: same labels; names get `` (tag)``).

        Validation and test stay the same arrays, and the copy shares this object's activation
        cache, so their cached activations are reused; so are the original training photos'
        (:meth:`prefix_of`): only the copies run through the network.
        """
        copy = replace(self, x_train=np.concatenate([self.x_train, *copies.values()]),
                       y_train=np.concatenate([self.y_train] * (1 + len(copies))),
                       names_train=[*self.names_train, *(f"{n} ({tag})" for tag in copies for n in self.names_train)])
        copy._activations = self.activation_cache()
        copy._train_prefix = self.x_train
        return copy

    def with_mirrored_training(self):
        """A copy whose training split also holds every training photo mirrored left to right
        (:meth:`with_training_copies`)."""
        return self.with_training_copies({"mirrored": self.x_train[:, :, ::-1]})

    def prefix_of(self, split):
        """The photo array (of another FlowerData sharing the cache) whose rows begin ``split``, or None."""
        return self._train_prefix if split == "train" else None

    @property
    def num_classes(self):
        """Number of classes (5 for tf_flowers)."""
        return len(self.class_names)

    @property
    def image_size(self):
        """Side of the square photos in pixels."""
        return int(self.x_train.shape[1])

    def split(self, name):
        """Return ``(photos, labels, names)`` of 'train', 'val' or 'test'."""
        if name not in ("train", "val", "test"):
            raise CourseError(t("data.bad_split", name=name))
        return (getattr(self, f"x_{name}"), getattr(self, f"y_{name}"),
                getattr(self, f"names_{name}"))

    def dataset(self, name, shuffle=None, batch_size=None, rows=None, seed=None):
        """A batched, preprocessed ``tf.data`` pipeline of one split (``rows``: only those photos)."""
        x, y, _ = self.split(name)
        return make_dataset(x, y, self.num_classes, batch_size or self.batch_size,
                            shuffle=(name == "train") if shuffle is None else shuffle,
                            seed=self.seed if seed is None else seed, label_mode=self.label_mode,
                            rows=rows)

    def first_per_class(self, n, splits=("train", "val", "test")):
        """``(photos, labels)``: the first ``n`` photos of each class, class after class.

        "First" in the order of ``splits`` laid end to end (training photos first), as
        ``np.concatenate`` of the splits would give them, but only the chosen photos
        are copied (all photos at 224 px are about 0.5 GB).
        """
        ys = [np.asarray(self.split(name)[1]) for name in splits]
        labels = np.concatenate(ys)
        pick = np.concatenate([np.flatnonzero(labels == c)[:n] for c in range(self.num_classes)])
        starts = np.cumsum([0] + [len(y) for y in ys])
        photos = np.empty((len(pick),) + self.x_train.shape[1:], dtype=self.x_train.dtype)
        for k, name in enumerate(splits):
            inside = (pick >= starts[k]) & (pick < starts[k + 1])
            photos[inside] = self.split(name)[0][pick[inside] - starts[k]]
        return photos, labels[pick]

    @property
    def train(self):
        """Training pipeline (shuffled every epoch, seeded)."""
        return self.dataset("train")

    @property
    def val(self):
        """Validation pipeline."""
        return self.dataset("val")

    @property
    def test(self):
        """Test pipeline."""
        return self.dataset("test")

    def summary(self):
        """One line per split: how many photos of each class."""
        lines = [t("data.summary_source", source=self.source, size=self.image_size)]
        for name in ("train", "val", "test"):
            _, y, _ = self.split(name)
            counts = np.bincount(y, minlength=self.num_classes)
            per = ", ".join(f"{c}: {n}" for c, n in zip(self.class_names, counts))
            lines.append(t("data.summary_split", name=name, n=len(y), per=per))
        return "\n".join(lines)


def preprocess(images):
    """MobileNetV2 preprocessing: uint8 pixels [0, 255] -> float32 in [-1, 1]."""
    tf = import_tensorflow()
    from keras.applications.mobilenet_v2 import preprocess_input

    return preprocess_input(tf.cast(images, tf.float32))


def row_batches(arrays, labels, batch_size, shuffle=False, seed=SEED, rows=None):
    """Batches ``(array[r] for each array..., labels[r])`` of in-memory arrays, taken by row number.

    The pipeline holds only row *numbers* (``rows``, default all) and takes each batch
    from the arrays when it is needed, so no copy of the arrays is made:
    ``from_tensor_slices(x)`` copies the whole array into the pipeline, and TensorFlow did
    not give that memory back after the pipeline was deleted (measured: about 0.3 GB kept
    per pipeline of 2 000 photos at 224 px). Shuffling the numbers with the seed gives the
    same order as shuffling the arrays themselves (same seed, same length). The arrays
    are referenced, not copied, so pass the big array and ``rows``, never a copy per run.
    """
    tf = import_tensorflow()
    arrays = [np.asarray(a) for a in arrays]
    labels = np.asarray(labels)
    rows = np.arange(len(labels), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    parts = arrays + [labels]
    types = [tf.as_dtype(a.dtype) for a in parts]

    def take(positions):
        picked = rows[positions]
        return tuple(a[picked] for a in parts)

    def batch(positions):
        out = tf.numpy_function(take, [positions], types, stateful=False)
        for tensor, a in zip(out, parts):
            tensor.set_shape((None, *a.shape[1:]))
        return tuple(out)

    ds = tf.data.Dataset.range(len(rows))
    if shuffle and len(rows):
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(batch, num_parallel_calls=2)


def make_dataset(x, y, num_classes, batch_size, shuffle=False, seed=SEED,
                 label_mode="categorical", rows=None):
    """Batch uint8 photos and labels into a preprocessed pipeline (``rows``: only those photos).

    Batches come from ``x`` by row number (:func:`row_batches`, no copy of the photos).
    Fixed parallelism and a one-batch prefetch instead of AUTOTUNE: on a small
    CPU the autotuner can stall every new iterator (every ``fit`` epoch).
    """
    labels = np.asarray(y, dtype=np.int64)
    if label_mode == "categorical":
        labels = np.eye(num_classes, dtype=np.float32)[labels]
    ds = row_batches([x], labels, batch_size, shuffle, seed, rows)
    ds = ds.map(lambda img, lab: (preprocess(img), lab), num_parallel_calls=2)
    return ds.prefetch(1)


def load_flowers(source=None, image_size=None, per_class=None, batch_size=None,
                 seed=None, label_mode="categorical"):
    """Load tf_flowers split 80/10/10: from ``source`` (a folder or 'tfds') or the config.

    ``per_class`` keeps only that many photos of each class (fast mode).
    """
    settings = get_settings()
    image_size = image_size or settings.image_size
    per_class = settings.per_class if per_class is None else (per_class or None)
    seed = settings.seed if seed is None else seed
    if source is None:
        source = settings.data_dir or "tfds"
    if label_mode not in ("categorical", "int"):
        raise CourseError(t("data.bad_label_mode", value=label_mode))
    if not isinstance(image_size, int) or not 32 <= image_size <= 1024:
        raise CourseError(t("data.bad_image_size", value=image_size))
    if str(source) == "tfds":
        class_names, splits, skipped, desc = _load_tfds(image_size, per_class, seed)
    else:
        class_names, splits, skipped, desc = _load_folder(Path(source), image_size,
                                                          per_class, seed, settings)
    (xtr, ytr, ntr), (xva, yva, nva), (xte, yte, nte) = splits
    return FlowerData(class_names, xtr, ytr, xva, yva, xte, yte, ntr, nva, nte,
                      source=desc, batch_size=batch_size or settings.batch_size,
                      seed=seed, label_mode=label_mode, skipped=skipped)


# ---------------------------------------------------------------- splitting

def split_indices(labels, num_classes, seed, per_class=None, ratios=SPLIT_RATIOS):
    """Seeded, stratified split of item indices into train / val / test index arrays.

    Items of each class are shuffled with one seeded generator (in the order
    given, so the caller must list them in a stable order); ``per_class`` keeps
    only the first items of each shuffled class.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    parts = ([], [], [])
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        if per_class:
            idx = idx[:per_class]
        # every class keeps at least one validation and one test photo when it has 3+
        least = 1 if len(idx) >= 3 else 0
        n_val = max(least, int(round(len(idx) * ratios[1])))
        n_test = max(least, int(round(len(idx) * ratios[2])))
        n_train = len(idx) - n_val - n_test
        parts[0].extend(idx[:n_train])
        parts[1].extend(idx[n_train:n_train + n_val])
        parts[2].extend(idx[n_train + n_val:])
    return tuple(np.array(sorted(p), dtype=np.int64) for p in parts)


# ---------------------------------------------------------------- photos

def to_rgb(image):
    """Any PIL image (grayscale, palette, RGBA, CMYK, 16-bit) as 8-bit RGB."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        array = 255 * (array - array.min()) / max(float(np.ptp(array)), 1.0)
        image = Image.fromarray(array.astype(np.uint8))
    return image.convert("RGB")


def upright(image):
    """A PIL photo turned as its EXIF orientation tag says (phones store many photos sideways)."""
    return ImageOps.exif_transpose(image)


def read_photo(source, image_size):
    """Decode one photo (path, bytes or file object) upright, as an RGB ``uint8`` square array."""
    try:
        fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        with Image.open(fp) as image:
            return _resize(to_rgb(upright(image)), image_size)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CourseError(t("data.bad_photo", name=_short(source), error=_reason(exc))) from None


def _resize(image, image_size):
    """Squash a PIL image to a square of ``image_size`` (as Keras' loaders do)."""
    return np.asarray(image.resize((image_size, image_size), Image.BILINEAR), dtype=np.uint8)


def _short(source):
    if isinstance(source, (str, Path)):
        path = Path(source)
        return f"{path.parent.name}/{path.name}"
    return getattr(source, "name", "przesłany plik")


def _reason(exc):
    """A short reason for a photo that cannot be read (no object addresses, no long paths)."""
    if isinstance(exc, UnidentifiedImageError):
        return t("data.unknown_format")
    text = str(exc).split("\n")[0]
    return text[:120] if text else type(exc).__name__


def _find_root(folder):
    """Accept the folder itself or its parent holding a single ``flower_photos``."""
    if not folder.is_dir():
        raise CourseError(t("data.folder_missing", path=folder))
    nested = folder / "flower_photos"
    if nested.is_dir() and not any(p.is_dir() for p in folder.iterdir() if p != nested):
        return nested
    return folder


def list_photos(folder):
    """List ``(class_names, [(path, class_index)], skipped)`` of a class-per-folder tree."""
    root = _find_root(folder)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise CourseError(t("data.no_classes", path=root))
    items, skipped = [], []
    for c, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.is_file() and not p.name.startswith("."))
        photos = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        skipped += [(f"{name}/{p.name}", t("data.not_an_image")) for p in files if p not in photos]
        if not photos:
            raise CourseError(t("data.empty_class", name=name, path=root / name))
        items += [(p, c) for p in photos]
    return classes, items, skipped


def check_minimums(class_names, counts, min_per_class=OWN_MIN_PER_CLASS):
    """CourseError unless there are >= 2 classes and every class has >= ``min_per_class`` photos.

    ``counts``: photos per class, in ``class_names`` order (or a dict). The message names
    the short class (the smallest first) and says how many photos it still needs. Here, next
    to :func:`list_photos`, so that the command line checks a folder before TensorFlow loads
    (:mod:`course_utils.small_data` uses the same function).
    """
    names = list(class_names)
    values = [counts[c] for c in names] if isinstance(counts, dict) else [int(n) for n in counts]
    if len(names) < OWN_MIN_CLASSES:
        raise CourseError(t("own.too_few_classes", n=len(names), minimum=OWN_MIN_CLASSES))
    short = sorted((n, c) for c, n in zip(names, values) if n < min_per_class)
    if short:
        n, name = short[0]
        others = ", ".join(f"{c!r} ({m})" for m, c in short[1:])
        raise CourseError(t("own.class_too_small", name=name, n=photos_word(n), minimum=min_per_class,
                            missing=photos_word(min_per_class - n),
                            others=t("own.also_short", names=others) if others else ""))
    return values


def _decode_into(x, paths, image_size):
    """Decode photos in two threads straight into the rows of ``x``; return ``{row: reason}`` of bad ones."""
    def one(row):
        try:
            x[row] = read_photo(paths[row], image_size)
            return None
        except CourseError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=2) as pool:
        reasons = list(pool.map(one, range(len(paths))))
    return {str(row): reason for row, reason in enumerate(reasons) if reason is not None}


def _cache_file(settings, root, items, image_size):
    stamp = hashlib.sha1()
    for path, label in items:
        st = path.stat()
        stamp.update(f"{path.relative_to(root)}|{label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    stamp.update(f"{image_size}|{DECODE_VERSION}".encode())
    return settings.cache_dir / f"photos_{stamp.hexdigest()[:16]}.npz"


def _decode_cached(items, root, image_size, settings):
    """Decode the chosen photos once; later runs read them from the cache folder."""
    cache = _cache_file(settings, root, items, image_size)
    if cache.is_file():
        try:
            with np.load(cache) as stored:
                return stored["x"], json.loads(str(stored["bad"]))
        except Exception:  # a truncated or foreign cache file: decode the photos again
            cache.unlink(missing_ok=True)
    x = np.zeros((len(items), image_size, image_size, 3), dtype=np.uint8)
    bad = _decode_into(x, [p for p, _ in items], image_size)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, x=x, bad=json.dumps(bad))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home only costs speed
    return x, bad


def _load_folder(folder, image_size, per_class, seed, settings):
    classes, items, skipped = list_photos(folder)
    labels = [c for _, c in items]
    parts = split_indices(labels, len(classes), seed, per_class, settings.split_ratios)
    chosen = np.concatenate(parts)
    root = _find_root(folder)
    x, bad = _decode_cached([items[i] for i in chosen], root, image_size, settings)
    position = {int(i): k for k, i in enumerate(chosen)}
    for k, reason in bad.items():
        path = items[int(chosen[int(k)])][0]
        skipped.append((f"{path.parent.name}/{path.name}", reason))
    bad_positions = {int(k) for k in bad}
    splits, start = [], 0
    for part in parts:
        keep = [i for i in part if position[int(i)] not in bad_positions]
        rows = np.array([position[int(i)] for i in keep], dtype=np.int64)
        # The photos were decoded split after split, so a split without bad photos is a view
        # of one block of ``x`` (no copy: at 224 px all photos are about 0.5 GB).
        whole = len(rows) == len(part) and np.array_equal(rows, np.arange(start, start + len(part)))
        photos = x[start:start + len(part)] if whole else x[rows]
        start += len(part)
        splits.append((photos, np.array([labels[i] for i in keep], dtype=np.int64),
                       [f"{items[i][0].parent.name}/{items[i][0].name}" for i in keep]))
    _warn_skipped(skipped)
    return classes, splits, skipped, f"folder {root}"


def _warn_skipped(skipped):
    if skipped:
        shown = "; ".join(f"{name} ({why})" for name, why in skipped[:5])
        more = t("data.skipped_more", n=len(skipped) - 5) if len(skipped) > 5 else ""
        warnings.warn(t("data.skipped", n=len(skipped), files=shown + more),
                      CourseDataWarning, stacklevel=4)


def _load_tfds(image_size, per_class, seed):
    """Read tf_flowers through TFDS and renumber its classes by sorted name."""
    import_tensorflow()
    import tensorflow_datasets as tfds

    try:
        ds, info = tfds.load(TFDS_NAME, split="train", with_info=True,
                             as_supervised=True, shuffle_files=False)
    except Exception as exc:  # offline: DownloadError, ConnectionError, ...
        raise CourseError(t("data.tfds_failed", error=type(exc).__name__)) from None
    tfds_names = info.features["label"].names
    class_names = sorted(tfds_names)
    to_sorted = np.array([class_names.index(n) for n in tfds_names])
    images, labels = [], []
    for image, label in ds:
        images.append(image)
        labels.append(int(to_sorted[int(label)]))
    parts = split_indices(labels, len(class_names), seed, per_class, get_settings().split_ratios)
    splits = []
    for part in parts:
        x = np.zeros((len(part), image_size, image_size, 3), dtype=np.uint8)
        for k, i in enumerate(part):
            x[k] = _resize(Image.fromarray(images[i].numpy()), image_size)
        splits.append((x, np.array([labels[i] for i in part], dtype=np.int64),
                       [f"tfds:{TFDS_NAME}/train[{i}]" for i in part]))
    return class_names, splits, [], f"TFDS {TFDS_NAME}"
