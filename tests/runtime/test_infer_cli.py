import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.registry import BackendOptions
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.infer_cli import main
from alexnet_edge.runtime.preprocess import normalize_uint8, preprocess_images


@pytest.fixture(scope="module")
def image_files(test_split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    pngs, jpgs = [], []
    for i in range(12):
        pixels = test_split.images[i].transpose(1, 2, 0)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
        Image.fromarray(pixels).save(folder / f"{i:02d}.jpg", quality=95)
        pngs.append(folder / f"{i:02d}.png")
        jpgs.append(folder / f"{i:02d}.jpg")
    return folder, pngs, jpgs


def _json_lines(output):
    return [json.loads(line) for line in output.strip().splitlines() if line.startswith("{")]


def test_png_classes_match_the_model_on_the_same_tensors_exactly(exported, test_split, image_files):
    _, pngs, _ = image_files
    model = exported.out / "model.fp32.onnx"
    result = CliRunner().invoke(main, ["--model", str(model), "--json", *map(str, pngs)])
    assert result.exit_code == 0, result.output
    records = _json_lines(result.output)
    with OnnxRuntimeRunner(model) as runner:
        expected = runner.infer(normalize_uint8(test_split.images[:12])).argmax(1)
    assert [r["class_index"] for r in records] == expected.tolist()
    assert all(r["class"] == CLASS_NAMES[r["class_index"]] and 0 < r["probability"] <= 1 for r in records)
    assert [r["path"] for r in records] == [str(p) for p in pngs]
    assert all(r["device"] == "cpu" and r["model"] == "model.fp32.onnx" and r["precision"] == "fp32" for r in records)
    (cpu,) = [json.loads(line.removeprefix("cpu: ")) for line in result.output.splitlines() if line.startswith("cpu: ")]
    assert cpu["int8_path"] and "features" in cpu  # the CPU once (stderr), not on every line


def test_jpeg_classes_match_the_model_on_the_decoded_jpegs(exported, image_files):
    _, _, jpgs = image_files
    model = exported.out / "model.int8.onnx"
    result = CliRunner().invoke(main, ["--model", str(model), "--json", *map(str, jpgs)])
    assert result.exit_code == 0
    with OnnxRuntimeRunner(model) as runner:
        expected = runner.infer(preprocess_images(jpgs)).argmax(1)
    assert [r["class_index"] for r in _json_lines(result.output)] == expected.tolist()


def test_folders_npy_topk_and_a_bad_file(exported, test_split, image_files, tmp_path):
    folder, _, _ = image_files
    np.save(tmp_path / "batch_u8.npy", test_split.images[:3].transpose(0, 2, 3, 1))
    np.save(tmp_path / "batch_f32.npy", normalize_uint8(test_split.images[:2]))
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5), np.float64))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    args = [
        "--model",
        str(exported.out / "model.fp32.onnx"),
        "--json",
        "--top-k",
        "3",
        str(folder),
        str(tmp_path / "batch_u8.npy"),
        str(tmp_path / "batch_f32.npy"),
        str(broken),
        str(tmp_path / "wrong.npy"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2  # some inputs failed (bad input); the rest were still classified
    records = _json_lines(result.output)
    ok = [r for r in records if "class" in r]
    errors = {r["path"]: r["error"] for r in records if "error" in r}
    assert len(ok) == 24 + 3 + 2 and all(len(r["top_k"]) == 3 for r in ok)
    assert ok[24]["class_index"] == ok[0]["class_index"]  # batch_u8[0] is test image 0, as is 00.png
    assert "not a readable image" in errors[str(broken)]
    assert "expected uint8 NHWC" in errors[str(tmp_path / "wrong.npy")]


def test_plain_text_output(exported, image_files):
    _, pngs, _ = image_files
    result = CliRunner().invoke(main, ["--model", str(exported.out / "model.fp32.onnx"), "--top-k", "2", str(pngs[0])])
    assert result.exit_code == 0
    line = result.output.strip()
    assert line.startswith(f"{pngs[0]}: ") and line.count(",") == 1


def test_corrupt_model_is_one_line(tmp_path, image_files):
    _, pngs, _ = image_files
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    result = CliRunner().invoke(main, ["--model", str(bad), str(pngs[0])])
    assert result.exit_code == 2 and result.output.strip().startswith("error: ") and "Traceback" not in result.output


def test_help_explains_inputs_and_offers_providers():
    from alexnet_edge.runtime.preprocess import IMAGE_SUFFIXES

    text = CliRunner().invoke(main, ["--help"]).output
    assert all(suffix in text for suffix in IMAGE_SUFFIXES) and ".npy files" in text
    assert "every image and every .npy file directly inside" in text and "--providers" in text


def test_providers_reach_the_onnxruntime_runner(exported, image_files, monkeypatch):
    from alexnet_edge.runtime import infer_cli

    seen, real = {}, infer_cli.open_runner

    def recording(path, backend=None, **kwargs):
        seen.update(kwargs)
        return real(path, backend, **kwargs)

    monkeypatch.setattr(infer_cli, "open_runner", recording)
    _, pngs, _ = image_files
    result = CliRunner().invoke(
        main, ["--model", str(exported.out / "model.fp32.onnx"), "--providers", "cpu", str(pngs[0])]
    )
    assert result.exit_code == 0, result.output
    assert seen == {"options": BackendOptions({"onnxruntime.providers": "cpu"})}  # --providers: the option's alias
