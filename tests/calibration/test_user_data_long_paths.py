"""A --calib-data / --eval-data folder holding a path longer than PATH_MAX (issue 28 §1): listed as
skipped in one short line, never a traceback (e9b3804: OSError ENAMETOOLONG from rglob's scandir)."""

import numpy as np
from support.filesystems import deeper_than_path_max
from support.image_files import write_pngs

from alexnet_edge.calibration.user_data import read_labelled, read_unlabelled
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.exit_status import LONGEST_PATH_SHOWN


def _pixels(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


def test_calib_data_folder_deeper_than_path_max_is_listed_as_skipped(tmp_path):
    folder = tmp_path / "calib"
    write_pngs(folder, _pixels(3))
    deeper_than_path_max(folder)
    data = read_unlabelled(folder)
    assert len(data) == 3
    unread = [s for s in data.skipped if "folder not read" in s]
    assert len(unread) == 1 and "File name too long" in unread[0], data.skipped
    assert len(unread[0]) < LONGEST_PATH_SHOWN + 100  # one line a terminal shows, not a 4,000-character path


def test_eval_data_class_folder_deeper_than_path_max_is_listed_as_skipped(tmp_path):
    folder = tmp_path / "eval" / CLASS_NAMES[0]
    write_pngs(folder, _pixels(2))
    deeper_than_path_max(folder)
    data = read_labelled(tmp_path / "eval", CLASS_NAMES)
    assert data.labels.tolist() == [0, 0]
    assert any("folder not read (File name too long)" in s for s in data.skipped), data.skipped
