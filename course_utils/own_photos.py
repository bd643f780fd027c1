"""Lesson 10's photo studio: the learner's own classes and photos, saved under the course home at once.

* :class:`PhotoStore` keeps one sub-folder per class under ``$COURSE_HOME/own_photos``
  (the layout ``load_flowers`` and ``python -m course_utils train --data-dir`` read).
  :meth:`PhotoStore.add` checks every file with the course's decoder
  (:func:`course_utils.data.read_photo`, EXIF orientation included), skips duplicates
  (same content, SHA-256) and unreadable files and reports them by name.
* :class:`PhotoStudio` is the ipywidgets 8 front end: a box to name a class and one
  ``FileUpload(multiple=True)`` per class; files are written as soon as they arrive,
  so a kernel restart loses nothing.
* :func:`demo_folder` makes a small folder of the course's own photos (2-3 classes)
  for a learner who has none yet, and for CI.
"""
import hashlib
import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from .config import (
    DEMO_CLASSES,
    DEMO_FAST_PER_CLASS,
    DEMO_PER_CLASS,
    OWN_MAX_CLASSES,
    OWN_MIN_CLASSES,
    OWN_MIN_PER_CLASS,
    get_settings,
)
from .data import IMAGE_EXTENSIONS, read_photo
from .errors import CourseError
from .messages import photos_word, t
from .widget_base import Displayed

OWN_FOLDER = "own_photos"
DEMO_FOLDER = "own_demo"
_BAD_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")
_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


def check_class_name(name):
    """The class name stripped, or a one-line CourseError (empty, path characters, too long)."""
    if not isinstance(name, str) or not name.strip():
        raise CourseError(t("own.empty_class_name"))
    name = " ".join(name.split())
    if _BAD_NAME.search(name) or name.startswith(".") or len(name) > 40:
        raise CourseError(t("own.bad_class_name", name=name))
    return name


def check_class_names(names):
    """2-10 distinct valid class names (case-insensitive), or a one-line CourseError."""
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise CourseError(t("own.names_not_list", kind=type(names).__name__))
    names = [check_class_name(n) for n in names]
    seen = {}
    for n in names:
        if n.lower() in seen:
            raise CourseError(t("own.duplicate_class", name=n))
        seen[n.lower()] = n
    if len(names) < OWN_MIN_CLASSES:
        raise CourseError(t("own.too_few_classes", n=len(names), minimum=OWN_MIN_CLASSES))
    if len(names) > OWN_MAX_CLASSES:
        raise CourseError(t("own.too_many_classes", n=len(names), maximum=OWN_MAX_CLASSES))
    return names


@dataclass
class AddReport:
    """What :meth:`PhotoStore.add` did: saved files, duplicates and unreadable files, by name."""

    class_name: str
    saved: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)  # (uploaded name, where the same photo already is)
    unreadable: list = field(default_factory=list)  # (uploaded name, reason)

    def lines(self):
        """Polish lines for the learner: one for the saved photos, one per skipped file."""
        out = [t("own.saved", n=photos_word(len(self.saved)), name=self.class_name)]
        out += [t("own.duplicate", file=f, where=w) for f, w in self.duplicates]
        out += [t("own.unreadable", file=f, reason=r) for f, r in self.unreadable]
        return out

    def __str__(self):
        return "\n".join(self.lines())


def _content(item):
    """Bytes of an upload item: a FileUpload dict, a ``(name, bytes)`` pair or a path."""
    if isinstance(item, dict):
        name, content = item.get("name") or t("photo.unnamed"), item.get("content", b"")
    elif isinstance(item, (str, Path)):
        path = Path(item)
        name, content = path.name, path.read_bytes() if path.is_file() else b""
    else:
        name, content = item
    if isinstance(content, memoryview):
        content = content.tobytes()
    return str(name), bytes(content)


def _stem(name):
    stem = _BAD_NAME.sub("_", Path(name).stem).strip(" .") or "zdjecie"
    return stem[:40]


class PhotoStore:
    """The learner's photos: ``root/<class>/<file>``, one content hash per photo."""

    def __init__(self, root=None):
        self.root = Path(root) if root is not None else get_settings().home / OWN_FOLDER
        self.root.mkdir(parents=True, exist_ok=True)
        self._hashes = None

    def classes(self):
        """Class names (sub-folders), sorted as the course numbers them."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def add_class(self, name):
        """Create the folder of a class (a valid name, at most 10 classes); return the name."""
        name = check_class_name(name)
        existing = {c.lower(): c for c in self.classes()}
        if name.lower() in existing:
            return existing[name.lower()]
        if len(existing) >= OWN_MAX_CLASSES:
            raise CourseError(t("own.too_many_classes", n=len(existing) + 1, maximum=OWN_MAX_CLASSES))
        (self.root / name).mkdir()
        return name

    def files(self, name):
        """Photo files of one class, sorted."""
        folder = self.root / name
        return sorted(p for p in folder.iterdir()
                      if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))

    def counts(self):
        """``{class: number of photos}``."""
        return {c: len(self.files(c)) for c in self.classes()}

    def _index(self):
        if self._hashes is None:
            self._hashes = {}
            for c in self.classes():
                for p in self.files(c):
                    self._hashes.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), f"{c}/{p.name}")
        return self._hashes

    def add(self, class_name, items):
        """Check and save uploaded files into a class; return an :class:`AddReport`.

        ``items``: FileUpload value dicts, ``(name, bytes)`` pairs or paths. Each file is
        decoded with the course's decoder first; a file already in the store (any class)
        is a duplicate. Saved files keep their bytes (EXIF included); a format without a
        usual extension (e.g. TIFF) is saved as PNG, upright.
        """
        name = self.add_class(class_name)
        report = AddReport(name)
        hashes = self._index()
        for item in items:
            file_name, content = _content(item)
            if not content:
                report.unreadable.append((file_name, t("own.empty_file")))
                continue
            digest = hashlib.sha256(content).hexdigest()
            if digest in hashes:
                report.duplicates.append((file_name, hashes[digest]))
                continue
            try:
                read_photo(content, 32)  # the course's decoder: fails for anything it cannot train on
                target, data = self._encoded(name, file_name, content, digest)
            except CourseError as exc:
                report.unreadable.append((file_name, _reason(str(exc))))
                continue
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            hashes[digest] = f"{name}/{target.name}"
            report.saved.append(target.name)
        return report

    def _encoded(self, name, file_name, content, digest):
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(content)) as image:
            ext = _FORMAT_EXT.get(image.format)
            if ext is None:  # Pillow reads it, but the loaders look for usual extensions
                from .data import to_rgb

                buffer = io.BytesIO()
                to_rgb(ImageOps.exif_transpose(image)).save(buffer, format="PNG")
                content, ext = buffer.getvalue(), ".png"
        return self.root / name / f"{_stem(file_name)}_{digest[:8]}{ext}", content

    def summary(self):
        """One Polish line: classes and photo counts, and what is still missing."""
        counts = self.counts()
        if not counts:
            return t("own.store_empty", path=self.root)
        parts = ", ".join(f"{c}: {photos_word(n)}" for c, n in counts.items())
        return t("own.store_summary", parts=parts, path=self.root)


def _reason(text):
    return text if len(text) <= 160 else text[:159] + "…"


def demo_folder(settings=None, classes=DEMO_CLASSES, per_class=None):
    """A folder with a few of the course's own photos per class (the demo when there are none yet).

    Photos are copied from ``COURSE_DATA_DIR`` (first files of each class in sorted
    order); without it they come from TFDS through ``load_flowers``. Returns the folder.
    """
    settings = settings or get_settings()
    per_class = per_class or (DEMO_FAST_PER_CLASS if settings.fast else DEMO_PER_CLASS)
    root = settings.home / DEMO_FOLDER
    if root.is_dir() and sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(classes) \
            and all(len(list((root / c).iterdir())) == per_class for c in classes):
        return root
    shutil.rmtree(root, ignore_errors=True)
    if settings.data_dir is not None:
        from .data import list_photos

        names, items, _ = list_photos(settings.data_dir)
        for c in classes:
            if c not in names:
                raise CourseError(t("own.demo_missing_class", name=c, path=settings.data_dir))
            (root / c).mkdir(parents=True)
            paths = [p for p, label in items if label == names.index(c)][:per_class]
            for p in paths:
                shutil.copyfile(p, root / c / p.name)
    else:
        from PIL import Image

        from .data import load_flowers

        data = load_flowers("tfds", image_size=224, per_class=per_class * 2)
        for c in classes:
            (root / c).mkdir(parents=True)
            label = data.class_names.index(c)
            photos = np.concatenate([x[y == label] for x, y, _ in map(data.split, ("train", "val", "test"))])
            for i, photo in enumerate(photos[:per_class]):
                Image.fromarray(photo).save(root / c / f"{c}_{i:02d}.jpg", quality=95)
    return root


def new_photos(folder, settings=None, per_class=20):
    """Photos of the demo's classes that are not in ``folder``: paths per class, for a check on new photos.

    Only for the demo (the course's photos): ``{class: [paths]}``, empty without ``COURSE_DATA_DIR``.
    """
    settings = settings or get_settings()
    if settings.data_dir is None:
        return {}
    from .data import list_photos

    names, items, _ = list_photos(settings.data_dir)
    used = {p.name for p in Path(folder).rglob("*") if p.is_file()}
    out = {}
    for c in sorted(p.name for p in Path(folder).iterdir() if p.is_dir()):
        if c in names:
            out[c] = [p for p, label in items if label == names.index(c) and p.name not in used][-per_class:]
    return out


class PhotoStudio(Displayed):
    """Name classes and upload photos for each (several files at once); saved at once under the course home."""

    def __init__(self, store=None):
        self.store = store if isinstance(store, PhotoStore) else PhotoStore(store)
        self.reports = []
        self.new_name = widgets.Text(placeholder=t("own.class_placeholder"), description=t("own.class_label"),
                                     style={"description_width": "initial"})
        self.add_button = widgets.Button(description=t("own.add_class"), icon="plus")
        self.rows = widgets.VBox()
        self.message = widgets.HTML()
        self.status = widgets.HTML()
        self.uploads = {}
        self.widget = widgets.VBox([widgets.HTML(f"<h3>{t('own.title')}</h3>"),
                                    widgets.HBox([self.new_name, self.add_button]),
                                    self.rows, self.message, self.status])
        self.widget.add_class("photo-studio")
        self.message.add_class("photo-studio-message")
        self.status.add_class("photo-studio-status")
        self.add_button.on_click(lambda _b: self._guard(self._add_from_box))
        self.new_name.on_submit(lambda _w: self._guard(self._add_from_box))
        self._rebuild()

    # --- actions ---------------------------------------------------------------

    def _guard(self, action):
        try:
            action()
        except CourseError as exc:
            self._show(str(exc), "error")

    def _show(self, text, kind="info"):
        import html

        icon = {"info": "ℹ️ ", "ok": "✅ ", "error": "❌ "}[kind]
        body = "<br>".join(html.escape(line, quote=False) for line in str(text).splitlines())
        self.message.value = f'<span class="course-message-{kind}">{icon}{body}</span>'

    def _add_from_box(self):
        name = self.add_class(self.new_name.value)
        self.new_name.value = ""
        self._show(t("own.class_added", name=name), "ok")

    def add_class(self, name):
        """Add a class (its folder and its upload button); return the stored name."""
        name = self.store.add_class(name)
        self._rebuild()
        return name

    def add(self, class_name, items):
        """Save files into a class (as the upload button does); show and return the report."""
        report = self.store.add(class_name, items)
        self.reports.append(report)
        if class_name not in self.uploads:
            self._rebuild()
        self._refresh()
        kind = "ok" if report.saved and not (report.duplicates or report.unreadable) else "info"
        self._show(str(report), kind if report.saved else "error")
        return report

    # --- layout -----------------------------------------------------------------

    def _rebuild(self):
        rows = []
        for c in self.store.classes():
            if c not in self.uploads:
                upload = widgets.FileUpload(accept="image/*", multiple=True, description=t("own.upload"))
                upload.add_class("photo-studio-upload")
                upload.observe(self._on_upload(c), names="value")
                self.uploads[c] = upload
            label = widgets.HTML(layout=widgets.Layout(width="260px"))
            label.add_class("photo-studio-class")
            rows.append((c, widgets.HBox([label, self.uploads[c]])))
        self._labels = {c: row.children[0] for c, row in rows}
        self.rows.children = [row for _, row in rows]
        self._refresh()

    def _refresh(self):
        import html

        counts = self.store.counts()
        for c, label in getattr(self, "_labels", {}).items():
            n = counts.get(c, 0)
            mark = "✓" if n >= OWN_MIN_PER_CLASS else f"(min. {OWN_MIN_PER_CLASS})"
            label.value = f"<b>{html.escape(c)}</b>: {photos_word(n)} {mark}"
        self.status.value = html.escape(self.store.summary())

    def _on_upload(self, class_name):
        def handler(change):
            files = change["new"]
            if not files:
                return
            try:
                self.add(class_name, files)
            except CourseError as exc:
                self._show(str(exc), "error")
            finally:
                self.uploads[class_name].value = ()  # ready for the next files
        return handler

    def summary(self):
        """One readable line (for nbconvert and print)."""
        return "PhotoStudio: " + self.store.summary()

    def __repr__(self):
        return self.summary()


def choose_source(store=None, folder=None, settings=None):
    """The folder lesson 10 trains on, and one Polish line saying which it is.

    ``folder`` (a path the learner set) wins; then the studio's photos when there are at
    least 2 classes of at least 5 photos; otherwise the demo of the course's own photos.
    """
    settings = settings or get_settings()
    if folder:
        path = Path(folder).expanduser()
        return path, t("own.source_folder", path=path)
    store = store if isinstance(store, PhotoStore) else PhotoStore(store)
    counts = store.counts()
    if len(counts) >= OWN_MIN_CLASSES and min(counts.values()) >= OWN_MIN_PER_CLASS:
        return store.root, t("own.source_own", path=store.root)
    root = demo_folder(settings)
    n = min(len(list(p.iterdir())) for p in root.iterdir() if p.is_dir())
    classes = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
    return root, t("own.source_demo", classes=classes, n=photos_word(n), path=root)


def try_photo(model, class_names):
    """Lesson 07's PhotoClassifier with a message that fits any classes (upload, probabilities)."""
    from .widgets import PhotoClassifier

    widget = PhotoClassifier(model, class_names)
    widget._show(t("own.try_ready", size=widget.image_size))
    widget.upload.accept = "image/*"
    return widget
