"""report.md must render as a table on GitHub: parsed with a CommonMark+tables parser."""

from markdown_it import MarkdownIt

from alexnet_edge.export.report import render_markdown


def _table_rows(markdown: str) -> list[list[str]]:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows, cells = [], None
    for token in tokens:
        if token.type == "tr_open":
            cells = []
        elif token.type == "inline" and cells is not None:
            cells.append(token.content)
        elif token.type == "tr_close":
            rows.append(cells)
            cells = None
    return rows


def test_report_md_parses_as_one_table_with_every_row(exported):
    rows = _table_rows((exported.out / "report.md").read_text())
    header, body = rows[0], rows[1:]
    assert len(header) == 11 and header[7] == "max |Δlogit|"
    assert len(body) == len(exported.report["rows"]) and all(len(r) == 11 for r in body)


def test_a_failure_message_with_a_pipe_stays_in_its_cell(exported):
    report = dict(exported.report)
    row = dict(report["rows"][-1], within_tolerance=False, failures=["x: max |Δ| = 3 is above 1"])
    report["rows"] = [*report["rows"][:-1], row]
    rows = _table_rows(render_markdown(report))
    assert all(len(r) == 11 for r in rows) and rows[-1][-1] == "NO: x: max |Δ| = 3 is above 1"
