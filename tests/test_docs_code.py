"""Every Python code block of the README and the docs pages runs as written.

Each page's blocks run top to bottom in one namespace, as a reader would run them, in
a temporary working directory (files the examples write land there). What counts as a
Python block, and the ``skip-doc-test`` marker for the rare block that must not run,
are described in ``tests/_doc_blocks.py``; a skipped block is reported as a pytest
skip with its reason (``pytest -rs`` lists them).

Printed figures are checked loosely: a statement ``print(...)  # about 0.97`` (or
``# 0.97; ...``) must print a first number within ``0.02 + 2%`` of the figure shown, and
doctest blocks (``>>>``) compare their output with the same looseness for numbers.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib.util
import io
import os
import re
import sys
import warnings
from pathlib import Path

import pytest
from _doc_blocks import Block, page_blocks
from sklearn.exceptions import ConvergenceWarning

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
BLOCKS = {page: page_blocks(page) for page in PAGES}

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_FIGURE = re.compile(
    r"#\s*(?:about|~|≈)?\s*(?P<figure>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)"
    r"(?![\w.])"
)


def close_enough(got: float, shown: float) -> bool:
    """Whether a printed number agrees with the figure a page shows for it.

    Parameters
    ----------
    got : float
        The number the code printed.
    shown : float
        The figure on the page.

    Returns
    -------
    bool

    Examples
    --------
    >>> close_enough(0.962, 0.97), close_enough(0.8, 0.97)
    (True, False)
    """
    return abs(got - shown) <= 0.02 + 0.02 * abs(shown)


class LooseNumbers(doctest.OutputChecker):
    """Doctest output checker that compares numbers with :func:`close_enough`."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        wanted, printed = _NUMBER.findall(want), _NUMBER.findall(got)
        if len(wanted) != len(printed) or not wanted:
            return False
        if _NUMBER.sub("#", want).split() != _NUMBER.sub("#", got).split():
            return False
        return all(close_enough(float(g), float(w)) for g, w in zip(printed, wanted))


def _shown_figure(node: ast.stmt, lines: list[str]) -> float | None:
    """The figure a ``print(...)`` statement's trailing comment shows, if any.

    ``lines`` are the page's lines, ``node`` a statement parsed with the page's line
    numbers.
    """
    if not (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "print"
    ):
        return None
    comment = lines[node.end_lineno - 1][node.end_col_offset :].strip()
    match = _FIGURE.match(comment)
    return float(match["figure"]) if match else None


def _run_python(block: Block, namespace: dict) -> None:
    """Execute a Python block statement by statement, checking printed figures."""
    padded = "\n" * (block.lineno - 1) + block.source
    lines = padded.splitlines()
    tree = ast.parse(padded, filename=str(block.path))
    for node in tree.body:
        code = compile(ast.Module([node], []), str(block.path), "exec")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        printed = out.getvalue()
        sys.stdout.write(printed)
        shown = _shown_figure(node, lines)
        if shown is None:
            continue
        where = f"{block.path.name}:{node.lineno}"
        numbers = _NUMBER.findall(printed)
        assert numbers, f"{where} shows {shown} but printed {printed!r}"
        assert close_enough(float(numbers[0]), shown), (
            f"{where} shows {shown} but printed {numbers[0]}: update the figure or "
            f"the example\n{lines[node.lineno - 1]}"
        )


def _run_doctest(block: Block, namespace: dict) -> None:
    """Run a ``>>>`` block in the page's namespace, numbers compared loosely."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(
        block.source, namespace, block.where, str(block.path), block.lineno - 1
    )
    runner = doctest.DocTestRunner(
        checker=LooseNumbers(),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    report = io.StringIO()
    result = runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)
    assert result.failed == 0, report.getvalue()


def _pages_with_code() -> list[Path]:
    return [page for page, blocks in BLOCKS.items() if any(b.runs for b in blocks)]


@pytest.mark.parametrize(
    "page", _pages_with_code(), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_page_code_runs(page, tmp_path, monkeypatch):
    """A page's Python blocks run in order, in one namespace, as written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    environ = dict(os.environ)
    namespace: dict = {"__name__": "__main__"}
    try:
        with warnings.catch_warnings():
            # the examples train for a few epochs, to keep the docs test fast
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            for block in BLOCKS[page]:
                if block.runs:
                    _run_block(block, namespace)
    finally:
        os.environ.clear()
        os.environ.update(environ)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def _run_block(block: Block, namespace: dict) -> None:
    """Run one block; a package the block imports and that is absent skips the page."""
    try:
        if block.language == "doctest":
            _run_doctest(block, namespace)
        else:
            _run_python(block, namespace)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if not top or importlib.util.find_spec(top) is not None:
            raise
        pytest.skip(f"{block.where} needs {top}, which is not installed")


_SKIPPED = [
    b for blocks in BLOCKS.values() for b in blocks if b.skip_reason is not None
]


@pytest.mark.parametrize("block", _SKIPPED, ids=lambda b: b.where)
def test_skipped_block(block):
    """Each block marked ``skip-doc-test`` is reported with its reason."""
    assert block.skip_reason, f"{block.where}: a skip-doc-test marker needs a reason"
    assert block.language != "dangling-marker", (
        f"{block.where}: a skip-doc-test marker with no code block after it"
    )
    assert block.language in ("python", "doctest"), (
        f"{block.where}: a skip-doc-test marker before a {block.language} block "
        "(only Python blocks run; remove the marker)"
    )
    pytest.skip(f"{block.where}: {block.skip_reason}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_non_python_blocks_say_their_language(page):
    """Shell commands and output are fenced with their language, never a bare ``::``.

    A bare ``::`` block is highlighted, and run, as Python; one that does not even parse
    as Python is a shell command or output that should be a ``code-block:: bash`` /
    ``console`` / ``text``.
    """
    for block in BLOCKS[page]:
        if block.language != "python":
            continue
        try:
            ast.parse(block.source)
        except SyntaxError as exc:
            pytest.fail(
                f"{block.where} is a Python block that does not parse ({exc.msg}): "
                "give shell commands or output their language "
                "(.. code-block:: bash / text, or ```bash)"
            )


def test_blocks_found_in_every_form():
    """The extractor finds each form of block the pages use, and the markers."""
    rst = (
        "Intro::\n\n    a = 1\n\n"
        ".. code-block:: python\n   :caption: x\n\n   b = a + 1\n\n"
        ">>> print(b)\n2\n\n"
        ".. skip-doc-test: needs a GPU\n\n"
        "- In a list::\n\n      c = 3\n\n"
        ".. code-block:: bash\n\n    torchrun train.py\n\n"
        ".. note::\n\n    Not code.\n"
    )
    found = [
        (b.lineno, b.language, b.skip_reason) for b in page_blocks(Path("p.rst"), rst)
    ]
    assert found == [
        (3, "python", None),
        (8, "python", None),
        (10, "doctest", None),
        (17, "python", "needs a GPU"),
        (21, "bash", None),
    ]
    md = "```python\nx = 1\n```\n\n```bash\nls\n```\n<!-- skip-doc-test: slow -->\n```py\ny\n```\n"
    found = [
        (b.lineno, b.language, b.skip_reason) for b in page_blocks(Path("m.md"), md)
    ]
    assert found == [(2, "python", None), (6, "bash", None), (10, "python", "slow")]


def test_printed_figure_checked(tmp_path):
    """A figure shown after a print is compared with what the code prints."""
    page = tmp_path / "page.rst"
    page.write_text("Run::\n\n    print(0.5)  # about 0.97\n")
    (block,) = page_blocks(page)
    with pytest.raises(AssertionError, match=r"shows 0\.97 but printed 0\.5"):
        _run_python(block, {})
    page.write_text("Run::\n\n    print(0.96)  # about 0.97\n")
    (block,) = page_blocks(page)
    _run_python(block, {})


def test_doctest_numbers_loose():
    """Doctest output agrees when the text matches and the numbers are close."""
    checker = LooseNumbers()
    assert checker.check_output("score 0.97\n", "score 0.962\n", 0)
    assert not checker.check_output("score 0.97\n", "score 0.5\n", 0)
    assert not checker.check_output("score 0.97\n", "loss 0.97 0.1\n", 0)


_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|[\s|:-]+\|\s*$")  # |---|---| under a header


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if p.suffix == ".md"],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_markdown_tables_are_whole(page):
    """A blank line inside a Markdown table ends it: the rows after it show as text.

    Two tables one after the other are fine: the second starts with a header row and
    its rule.
    """
    lines = [*page.read_text(encoding="utf-8").splitlines(), ""]
    for i in range(1, len(lines) - 2):
        if (
            not lines[i].strip()
            and _TABLE_ROW.match(lines[i - 1])
            and _TABLE_ROW.match(lines[i + 1])
            and not _TABLE_RULE.match(lines[i + 2])
        ):
            pytest.fail(f"{page.name}:{i + 1}: a blank line breaks a table in two")
