"""Lesson 09's experiments: do the promises of transfer learning hold on real photos?

The heavy loops of the lesson live in this package as small seeded functions, one module
per experiment (``race``, ``less_data``, ``learning_rate``, ``mismatch``, ``summary``;
shared pieces in ``common``); the
notebook builds the models (the Keras calls the learner should see) and
passes them in. Feature extraction and fine-tuning go through the cached
paths of :mod:`course_utils.training` (one forward pass of the frozen base,
then only the trainable part runs), so the comparisons are cheap enough for
a laptop CPU.

1. :func:`train_scratch`, :func:`train_feature_extraction`,
   :func:`train_fine_tuning` -> :class:`Curve` (validation accuracy against
   epochs and wall seconds); :func:`plot_race`.
2. :func:`learning_curve` (test accuracy against photos per class, several
   seeds) -> :class:`LearningCurve`; :func:`plot_learning_curve`.
3. :func:`lr_sweep` (fine-tuning the whole base from one checkpoint with
   several learning rates, and how far ``Conv1`` moved) -> :class:`LrRun`
   list; :func:`plot_lr_sweep`, :func:`plot_filter_drift`.
   :func:`feature_check` (a head on raw vs standardised features: random
   weights give tiny features, so scale must not be mistaken for content).
4. :func:`load_digits_data`, :func:`mismatch_row` and :func:`row_from_curve`
   (from scratch vs ImageNet features with the same photos per class, on
   flowers and on 8x8 digits) -> :class:`MismatchRow`; :func:`plot_task_mismatch`.
5. :func:`summary_markdown`: the verdicts, derived from the measured numbers.

:func:`accuracy_interval` (how much one test accuracy can be trusted) also
serves lesson 06 and ``benchmarks/bench_accuracy.py``.
"""
from .common import (  # noqa: F401
    COLORS,
    FIRST_CONV,
    LEARNING_RATES,
    Plan,
    _check_data,
    _check_per_class,
    _loss,
    _quiet,
    accuracy_interval,
    accuracy_on_test,
    describe_plan,
    make_plan,
    seeded,
)
from .learning_rate import (  # noqa: F401
    FeatureCheck,
    LrRun,
    describe_lr_sweep,
    feature_check,
    feature_scale,
    first_conv_kernel,
    lr_sweep,
    plot_filter_drift,
    plot_lr_sweep,
    relative_distance,
    standardize,
)
from .less_data import (  # noqa: F401
    LearningCurve,
    describe_learning_curve,
    epochs_for,
    head_accuracy,
    learning_curve,
    plot_learning_curve,
    pooled_features,
    scratch_accuracy,
    shrink,
    subset,
    subset_indices,
)
from .mismatch import (  # noqa: F401
    MismatchRow,
    describe_task_mismatch,
    digit_images,
    load_digits_data,
    mismatch_row,
    plot_task_mismatch,
    row_from_curve,
)
from .race import (  # noqa: F401
    Curve,
    _Clock,
    _ClockCallback,
    _curve_points,
    describe_race,
    plot_race,
    train_feature_extraction,
    train_fine_tuning,
    train_scratch,
)
from .summary import (  # noqa: F401
    _by_kind,
    summary_markdown,
    verdicts,
)
