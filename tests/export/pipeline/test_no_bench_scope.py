"""``--no-bench`` skips timing only. Accuracy is judged on the same images whether or not a run is timed
(--eval-size alone decides how many), and the run says so where it lists what it skipped, with the way to a
quicker run, instead of leaving a newcomer to wonder why "no benchmark" still takes minutes."""

from click.testing import CliRunner

from alexnet_edge.export.cli.export import export_alexnet


def test_the_summary_says_evaluation_still_ran_on_every_image(exported):
    (note,) = [line for line in exported.result.skipped if line.startswith("benchmark:")]
    assert "every row still evaluated on 1000 images" in note and "--eval-size N" in note


def test_help_says_what_no_bench_skips_and_what_not():
    text = " ".join(CliRunner().invoke(export_alexnet, ["--help"]).output.split())
    start = text.index("--no-bench")
    assert "skip latency timing only" in text[start : start + 200] and "--eval-size" in text[start : start + 200]
