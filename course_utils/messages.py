"""Every learner-facing string of the course, in Polish, in one place.

An English edition can follow by adding a second dictionary with the same keys.
Use ``t(key, **fields)``; keys are grouped by concern (one section per module).
"""

PL = {
    # --- config ---
    "config.bad_int": "Zmienna {name}={value!r} musi być liczbą całkowitą (np. {name}=224).",
    "config.bad_flag": "Zmienna {name}={value!r} musi mieć wartość 1 lub 0.",
    # --- data ---
    # --- model ---
    "model.bad_image_size": "Rozmiar obrazu {size} nie pasuje do wag MobileNetV2: wybierz jeden z {sizes}.",
    "model.weights_missing": "Nie ma pliku wag {path}: popraw COURSE_WEIGHTS (plik mobilenet_v2_1.0_224_imagenet_no_top.h5) albo usuń tę zmienną, by pobrać wagi 'imagenet'.",
    "model.download_failed": "Nie udało się pobrać wag ImageNet ({error}; brak internetu?): ustaw COURSE_WEIGHTS=/ścieżka/do/mobilenet_v2_1.0_224_imagenet_no_top.h5.",
    "model.weights_unreadable": "Nie da się wczytać wag z {path} ({error}): to musi być plik .h5 MobileNetV2 bez głowy (include_top=False).",
    "model.depth_not_int": "Liczba warstw musi być liczbą całkowitą, a podano {value!r}.",
    "model.depth_out_of_range": "Liczba warstw {value} jest poza zakresem: wybierz od 0 do {max}.",
    "model.unknown_block": "Nie znam bloku ani warstwy {name!r}: wybierz jeden z bloków: {blocks}.",
    "model.not_a_model": "Oczekiwano modelu Keras (keras.Model), a podano obiekt typu {kind}.",
    # --- training ---
    # --- plots ---
    # --- widgets ---
    # --- quiz ---
    # --- cli ---
}

MESSAGES = {"pl": PL}
LANGUAGE = "pl"


def t(key, **fields):
    """Return the message for ``key`` in the course language, filled with ``fields``."""
    return MESSAGES[LANGUAGE][key].format(**fields)
