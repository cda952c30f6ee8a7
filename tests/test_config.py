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
        ({"width": 30, "heads": 8}, "width \\(30\\) must be a multiple of heads \\(8\\)"),
        ({"width": 0}, r"width must be in \[2, 1024\], got 0"),
        ({"heads": 0}, "heads"),
        ({"group_size": 0}, r"group_size must be in \[1, 4096\], got 0"),
        ({"hash_rounds": 0}, r"hash_rounds must be in \[1, 16\]"),
        ({"max_buckets": 7}, "max_buckets must be even, got 7"),
        ({"max_buckets": 0}, "max_buckets"),
        ({"ca_reduction": 128}, "ca_reduction \\(128\\) leaves no channels"),
        ({"gate": "sparse"}, "gate must be 'dense' or 'dwsep'"),
        ({"decoder_residual": "ir"}, "decoder_residual must be 'none' or 'vis'"),
        ({"scb_kernel": 6}, "scb_kernel must be odd"),
        ({"sa_kernel": 4}, "sa_kernel must be odd"),
        ({"gate_kernel": 2}, "gate_kernel must be odd"),
        # A config read from a weights file is untrusted: types and ranges before any allocation.
        ({"encoder_blocks": 10**7}, r"encoder_blocks must be in \[0, 32\], got 10000000"),
        ({"width": 400000}, r"width must be in \[2, 1024\]"),
        ({"scb_kernel": None}, "scb_kernel must be an int, got None"),
        ({"width": "64"}, "width must be an int, got '64'"),
        ({"width": 64.0}, "width must be an int, got 64.0"),
        ({"heads": True}, "heads must be an int, got True"),
        ({"ffn_expansion": float("nan")}, "ffn_expansion must be in \\(0, 16\\], got nan"),
        ({"ccb_expansion": "2"}, "ccb_expansion must be a number"),
        ({"ffn_expansion": 0.01}, "ffn_expansion \\(0.01\\) leaves no hidden channels"),
        ({"bias": 1}, "bias must be true or false, got 1"),
        ({"gate": ["dense"]}, "gate must be 'dense' or 'dwsep', got \\['dense'\\]"),
        ({"rotation_seed": -1}, "rotation_seed must be in"),
        ({"width": 1024, "heads": 8, "encoder_blocks": 32, "decoder_blocks": 32,
          "ffn_expansion": 16.0},
         "would hold 3,633,395,043 parameters, over the limit of 100,000,000"),
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


@pytest.mark.parametrize("changes", [
    {}, {"width": 12, "heads": 3, "ffn_expansion": 2.5, "bias": True, "decoder_residual": "vis",
         "hash_rounds": 3, "max_buckets": 10, "scb_kernel": 5, "ccb_expansion": 1.5,
         "ca_reduction": 3, "sa_kernel": 3, "gate": "dwsep", "gate_kernel": 5},
    {"width": 10, "heads": 5, "encoder_blocks": 0, "decoder_blocks": 2, "use_ngmm": False,
     "use_camn": False},
])
def test_parameter_count_is_the_built_networks(changes: dict[str, object]) -> None:
    from pomai.nn.pomai import PoMAI

    config = PoMAIConfig(**changes)  # type: ignore[arg-type]
    model = PoMAI(config)
    stored = sum(t.numel() for t in [*model.parameters(), *model.buffers()])
    assert config.parameter_count() == stored
