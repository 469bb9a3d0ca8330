"""The INT8 model build: reproducible to the byte, checked against the artefact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx  # noqa: F401  (no importorskip: without the extra, fail)
import pytest
import skimage  # noqa: F401
import sympy  # noqa: F401

from proveo.moderation import modelbuild
from proveo.moderation.classifier import DEFAULT_MODEL_PATH, MODEL_SHA256, preprocess

REPO = Path(__file__).resolve().parents[2]
CHECKSUM_FILE = REPO / "models" / "open-nsfw-int8.onnx.sha256"


def test_calibration_images_are_deterministic() -> None:
    first = [preprocess(image) for image in modelbuild.calibration_images(24)]
    second = [preprocess(image) for image in modelbuild.calibration_images(24)]
    assert len(first) == 24
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_source_model_is_the_packaged_fp32_export() -> None:
    assert modelbuild.verify_model(
        modelbuild.source_model_path(),
        "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa",
    )


def test_verify_model(tmp_path: Path) -> None:
    assert modelbuild.verify_model(DEFAULT_MODEL_PATH, MODEL_SHA256.upper())
    assert not modelbuild.verify_model(DEFAULT_MODEL_PATH, "0" * 64)
    assert not modelbuild.verify_model(tmp_path / "absent.onnx", MODEL_SHA256)


def test_main_requires_an_action() -> None:
    with pytest.raises(SystemExit):
        modelbuild.main([])


@pytest.mark.slow
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    output = tmp_path / "open-nsfw-int8.onnx"
    assert modelbuild.main(["--output", str(output)]) == 0
    assert modelbuild.verify_model(output, MODEL_SHA256)
    assert output.read_bytes() == DEFAULT_MODEL_PATH.read_bytes()


@pytest.mark.slow
def test_check_compares_with_the_committed_checksum(tmp_path: Path) -> None:
    assert modelbuild.main(["--check", "--checksum-file", str(CHECKSUM_FILE)]) == 0
    wrong = tmp_path / "wrong.sha256"
    wrong.write_text("0" * 64 + "  open-nsfw-int8.onnx\n")
    assert modelbuild.main(["--check", "--checksum-file", str(wrong)]) == 1
