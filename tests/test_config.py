"""PoMAIConfig: JSON round trip of every named config, validation, unknown fields."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pomai.config import NAMED_CONFIGS, PoMAIConfig, get_config


@pytest.mark.parametrize("name", sorted(NAMED_CONFIGS))
def test_json_round_trip_of_named_config(name: str) -> None:
    config = get_config(name)
    text = config.to_json()
    again = PoMAIConfig.from_json(text)
    assert again == config
    assert again.to_json() == text
    # Every field is in the JSON, so a checkpoint's config does not depend on code defaults.
    assert set(json.loads(text)) == {f.name for f in dataclasses.fields(PoMAIConfig)}


def test_round_trip_of_non_default_values() -> None:
    config = PoMAIConfig(
        width=12, heads=3, ffn_expansion=2.5, bias=True, decoder_residual="vis", group_size=7,
        hash_rounds=3, max_buckets=10, rotation_seed=5, resample_rotations_in_train=True,
        scb_kernel=5, scb_dilation=2, ccb_expansion=1.5, ca_reduction=3, sa_kernel=3,
        gate="dwsep", gate_kernel=5, use_ngmm=False, use_camn=False,
    )
    assert PoMAIConfig.from_json(config.to_json()) == config
    assert PoMAIConfig.from_dict(config.to_dict()) == config


def test_named_configs() -> None:
    assert {"paper", "small", "tiny"} <= set(NAMED_CONFIGS)
    assert get_config("paper") == PoMAIConfig()
    assert get_config("paper").width == 64 and get_config("paper").heads == 8
    assert get_config("small").width < 64 and get_config("tiny").width < get_config("small").width
    with pytest.raises(ValueError, match="unknown config 'huge'.*paper"):
        get_config("huge")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 30, "heads": 8}, "width \\(30\\) must be a positive multiple of heads"),
        ({"width": 0}, "width"),
        ({"heads": 0}, "heads"),
        ({"group_size": 0}, "group_size must be >= 1"),
        ({"hash_rounds": 0}, "hash_rounds must be >= 1"),
        ({"max_buckets": 7}, "max_buckets must be an even number >= 2"),
        ({"max_buckets": 0}, "max_buckets"),
        ({"ca_reduction": 128}, "ca_reduction \\(128\\) leaves no channels"),
        ({"gate": "sparse"}, "gate must be 'dense' or 'dwsep'"),
        ({"decoder_residual": "ir"}, "decoder_residual must be 'none' or 'vis'"),
        ({"scb_kernel": 6}, "scb_kernel must be odd"),
        ({"sa_kernel": 4}, "sa_kernel must be odd"),
        ({"gate_kernel": 2}, "gate_kernel must be odd"),
    ],
)
def test_validation_errors(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="invalid PoMAIConfig: .*" + message):
        PoMAIConfig(**changes)  # type: ignore[arg-type]
    # replace() validates too, and so does loading JSON.
    with pytest.raises(ValueError, match=message):
        PoMAIConfig().replace(**changes)
    with pytest.raises(ValueError, match=message):
        PoMAIConfig.from_json(json.dumps({**PoMAIConfig().to_dict(), **changes}))


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ValueError) as info:
        PoMAIConfig(group_size=0, hash_rounds=0, gate_kernel=4)
    text = str(info.value)
    assert "group_size" in text and "hash_rounds" in text and "gate_kernel" in text


def test_unknown_field_error_names_the_field() -> None:
    data = {**PoMAIConfig().to_dict(), "window_size": 8, "alpha": 1}
    with pytest.raises(ValueError, match=r"unknown PoMAIConfig fields \['alpha', 'window_size'\]"):
        PoMAIConfig.from_dict(data)
    with pytest.raises(ValueError, match="upgrade the package"):
        PoMAIConfig.from_json(json.dumps(data))


def test_missing_fields_take_defaults_and_config_is_frozen() -> None:
    assert PoMAIConfig.from_dict({"width": 16, "heads": 2}) == PoMAIConfig(width=16, heads=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PoMAIConfig().width = 8  # type: ignore[misc]
