"""The exercise checks' messages give every counted noun its Polish form for the count (no photos needed)."""
import pytest

from course_utils.messages import t

COUNTS = [1, 2, 5, 12, 20, 22]


def form(n, one, few, many):
    """The expected phrase, by the Polish rule written out here (1; 2-4 but not 12-14; the rest)."""
    if n == 1:
        return one
    return few if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else many


@pytest.mark.parametrize("n", COUNTS)
def test_layer_counts(n):
    assert form(n, "odmroź ostatnią warstwę pętlą", f"odmroź ostatnie {n} warstwy pętlą",
                f"odmroź ostatnie {n} warstw pętlą") in t("check.base_not_trainable", n=n)
    assert form(n, "tylko ostatnią z 154 warstw", f"tylko ostatnie {n} z 154 warstw",
                f"tylko ostatnie {n} z 154 warstw") in t("check.early_trainable", name="Conv1", index=1, n=n,
                                                         total=154)
    assert form(n, "należy do ostatniej warstwy:", f"należy do ostatnich {n} warstw:",
                f"należy do ostatnich {n} warstw:") in t("check.late_frozen", name="Conv1", index=1, n=n)
    assert t("check.last_n_ok", n=n, weights=1000).startswith(
        form(n, "Uczy się dokładnie ostatnia warstwa bazy", f"Uczą się dokładnie ostatnie {n} warstwy bazy",
             f"Uczą się dokładnie ostatnie {n} warstw bazy"))


@pytest.mark.parametrize("n", COUNTS)
def test_class_and_parameter_counts(n):
    assert form(n, f"mieć {n} neuron.", f"mieć {n} neurony.", f"mieć {n} neuronów.") in t(
        "check.classes_bad", actual=1000, n=n)
    assert f"daje {n} {'wartość' if n == 1 else 'wartości'}," in t("check.classes_bad", actual=n, n=5)
    assert form(n, f"ma {n} klasę i", f"ma {n} klasy i", f"ma {n} klas i") in t("check.head_ok", n=n)
    assert form(n, f"prawdopodobieństwa {n} klasy sumujące", f"prawdopodobieństwa {n} klas sumujące",
                f"prawdopodobieństwa {n} klas sumujące") in t("check.activation_bad", activation="relu", n=n)
    assert form(n, f"ma {n} trenowalny parametr,", f"ma {n} trenowalne parametry,",
                f"ma {n} trenowalnych parametrów,") in t("check.params_ok", n=n)
    assert form(n, f"ma {n} trenowalny parametr,", f"ma {n} trenowalne parametry,",
                f"ma {n} trenowalnych parametrów,") in t("check.params_bad", actual=n, expected=6405)
