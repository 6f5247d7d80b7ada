"""tools/gpu_check_polygraphy.py: Polygraphy as an independent cross-check of our TensorRT runner (issue #27).

No GPU, TensorRT or Polygraphy here: the skips and the comparison run against stand-ins.
"""

import time
import types

import numpy as np
import pytest
from support.paths import REPO
from support.trt_fakes import fake_logits

from alexnet_edge.runtime.precision import Precision


@pytest.fixture
def pg(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "tools"))
    import gpu_check_polygraphy

    return gpu_check_polygraphy


def _ctx(pg, tmp_path):
    return pg.parts.Context(
        reference_dir=tmp_path / "reference",
        data_root=tmp_path / "cifar10",
        checkpoint=tmp_path / "ckpt.pt",
        models_dir=tmp_path / "models",
        out=tmp_path / "out",
        deadline=time.monotonic() + 60,
    )


@pytest.mark.parametrize(("present", "missing"), [(set(), "polygraphy"), ({"polygraphy"}, "tensorrt")])
def test_it_is_skipped_with_the_reason_where_polygraphy_or_tensorrt_is_absent(
    pg, tmp_path, monkeypatch, present, missing
):
    monkeypatch.setattr(pg.parts, "importable", lambda module: module in present)
    (row,) = pg.polygraphy_part(_ctx(pg, tmp_path))
    assert row.status == "skip" and row.detail.startswith(f"{missing} is not importable here")


def _images(n=300):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3, 32, 32)).astype(np.float32)


def test_equal_logits_pass_and_a_drift_beyond_the_precisions_bound_fails(pg):
    ours = 100 * fake_logits(_images())  # logits of a few units, as the model's
    labels = ours.argmax(1)
    same = pg.cross_check_row("p", Precision.FP32, ours, ours + 1e-5, labels)
    assert same.status == "pass" and "agreement 100.00%" in same.detail
    drifted = pg.cross_check_row("p", Precision.FP32, ours, ours + 0.01, labels)  # FP32's bound is 1e-3
    assert drifted.status == "fail" and "max |dlogit| 0.01" in drifted.detail
    assert pg.cross_check_row("p", Precision.FP16, ours, ours + 0.01, labels).status == "pass"
    shaped = pg.cross_check_row("p", Precision.FP16, ours, ours[:10], labels)
    assert shaped.status == "fail" and "Polygraphy gave logits [10, 10]" in shaped.detail


def test_the_part_compares_polygraphys_logits_with_ours_per_model(pg, tmp_path, monkeypatch):
    """The part's plumbing with stand-ins for the two builds: one model agrees, one does not, one build raises."""
    images = _images()
    monkeypatch.setattr(pg.parts, "importable", lambda module: True)
    models = {p: tmp_path / p.onnx_name for p in (Precision.FP32, Precision.FP16, Precision.INT8)}
    monkeypatch.setattr(pg.backends, "model_paths", lambda ctx: models)
    monkeypatch.setattr(pg.parts, "eval_images", lambda ctx: (images, fake_logits(images).argmax(1)))
    monkeypatch.setattr(pg, "our_logits", lambda ctx, precision, path, imgs: fake_logits(imgs))

    def theirs(path, precision, imgs):
        if precision is Precision.INT8:
            raise RuntimeError("Polygraphy: the builder failed\nmore lines")
        return fake_logits(imgs) + (0.0 if precision is Precision.FP32 else 5.0)

    monkeypatch.setattr(pg, "polygraphy_logits", theirs)
    rows = {row.name: row for row in pg.polygraphy_part(_ctx(pg, tmp_path))}
    assert rows["polygraphy fp32 vs ours"].status == "pass"
    assert rows["polygraphy fp16 vs ours"].status == "fail"
    assert rows["polygraphy int8 vs ours"].detail == "RuntimeError: Polygraphy: the builder failed"


def test_polygraphy_is_asked_for_our_profile_typing_and_tf32(pg, monkeypatch):
    """What polygraphy_logits hands Polygraphy's loaders (polygraphy 0.53.6's API), with stand-in modules."""
    import sys

    seen = {}

    class Loader:
        def __init__(self, *args, **kwargs):
            seen[type(self).__name__] = (args, kwargs)

    class Profile(dict):
        def add(self, name, min, opt, max):  # noqa: A002 - Polygraphy's names
            self[name] = (min, opt, max)
            return self

    class TrtRunner(Loader):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def infer(self, feed):
            return {"logits": fake_logits(feed["input"])}

    names = ("CreateConfig", "EngineBytesFromNetwork", "EngineFromBytes", "NetworkFromOnnxPath")
    trt_module = types.SimpleNamespace(
        **{n: type(n, (Loader,), {}) for n in names}, Profile=Profile, TrtRunner=TrtRunner
    )
    logger = types.SimpleNamespace(G_LOGGER=types.SimpleNamespace(WARNING=30, module_severity=None))
    monkeypatch.setitem(sys.modules, "polygraphy", types.ModuleType("polygraphy"))
    monkeypatch.setitem(sys.modules, "polygraphy.backend", types.ModuleType("polygraphy.backend"))
    monkeypatch.setitem(sys.modules, "polygraphy.backend.trt", trt_module)
    monkeypatch.setitem(sys.modules, "polygraphy.logger", logger)
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.3.0"))
    images = _images(300)
    logits = pg.polygraphy_logits("model.fp16.onnx", Precision.FP16, images)
    np.testing.assert_allclose(logits, fake_logits(images), rtol=1e-6)
    assert seen["NetworkFromOnnxPath"] == (("model.fp16.onnx",), {"strongly_typed": True})
    config = seen["CreateConfig"][1]
    assert config["tf32"] is True and not config["fp16"] and not config["int8"]  # strongly typed: no flags
    assert config["profiles"][0]["input"] == ((1, 3, 32, 32), (32, 3, 32, 32), (256, 3, 32, 32))
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="8.6.1"))
    pg.polygraphy_logits("model.fp32.onnx", Precision.FP32, images[:4])
    assert seen["CreateConfig"][1]["tf32"] is False and seen["NetworkFromOnnxPath"][1] == {"strongly_typed": None}
