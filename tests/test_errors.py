"""pomai.errors: one family, exported at the top level, standard bases kept."""

from __future__ import annotations

import inspect

import pytest

import pomai
import pomai.errors


def _error_classes() -> list[type[BaseException]]:
    return [obj for _, obj in inspect.getmembers(pomai.errors, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == "pomai.errors"]


@pytest.mark.parametrize("error", _error_classes(), ids=lambda e: e.__name__)
def test_every_error_derives_from_pomai_error_and_is_exported(error):
    assert issubclass(error, pomai.PomaiError)
    assert getattr(pomai, error.__name__) is error


@pytest.mark.parametrize(("error", "standard"), [
    (pomai.InputError, ValueError),
    (pomai.UnknownModelError, LookupError),
    (pomai.WeightsUnavailableError, OSError),
    (pomai.ChecksumMismatchError, OSError),
    (pomai.CheckpointMismatchError, ValueError),
    (pomai.ManifestError, ValueError),
    (pomai.MissingDependencyError, ImportError),
    (pomai.TileOutOfMemoryError, MemoryError),
    (pomai.UsageError, ValueError),
    (pomai.DeviceUnavailableError, RuntimeError),
])
def test_errors_keep_their_standard_base(error, standard):
    assert issubclass(error, standard)


def test_no_error_class_outside_the_family():
    import importlib
    import pkgutil

    strays = []
    for info in pkgutil.walk_packages(pomai.__path__, "pomai."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == info.name and not issubclass(obj, pomai.PomaiError)):
                strays.append(f"{info.name}.{name}")
    assert strays == []


def test_unknown_model_error_message_is_not_quoted():
    assert str(pomai.UnknownModelError("no model 'x'")) == "no model 'x'"
