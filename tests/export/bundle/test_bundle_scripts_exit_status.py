"""The bundle's scripts follow the exit-status policy before they can import anything (issue 28 §1): an
environment without the bundle's requirements is one ``error:`` line and exit 2 (e9b3804: a traceback
and exit 1 from the import)."""

import subprocess
import sys

import pytest

from alexnet_edge.export.bundle.texts import SCRIPT, SCRIPTS
from alexnet_edge.export.bundle.writer import copy_runtime


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_script_without_its_requirements_is_exit_2_in_one_line(script, tmp_path):
    copy_runtime(tmp_path)
    doc, module, function = SCRIPTS[script]
    (tmp_path / script).write_text(SCRIPT.format(doc=doc, module=module, function=function))
    # -S: no site-packages, so numpy, click and onnxruntime are missing, as on a device before pip install
    proc = subprocess.run(
        [sys.executable, "-S", "-E", str(tmp_path / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: no module ") and "install this bundle's requirements first" in line
