"""Find the code blocks of the README and the docs pages, and say which are Python.

The convention (also in ``tests/test_docs_code.py``):

* Python blocks are RST ``.. code-block:: python`` (or ``py``, ``python3``, ``pycon``),
  every RST ``::`` literal block (Sphinx highlights those as Python), ``>>>`` doctest
  blocks, and Markdown fences whose language is ``python``, ``py`` or ``pycon``.
  Anything else (shell commands, program output) must say its language:
  ``.. code-block:: bash`` / ``console`` / ``text``, or a ```` ```bash ```` fence.
* A block that must not run carries a marker before it, with a reason:
  ``.. skip-doc-test: <reason>`` in RST (a comment: not rendered) or
  ``<!-- skip-doc-test: <reason> -->`` in Markdown. A marker applies to the next code
  block of the page.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

PYTHON_LANGUAGES = {"python", "py", "python3", "pycon", "default"}

_RST_MARKER = re.compile(r"^\s*\.\.\s+skip-doc-test:\s*(?P<reason>.*?)\s*$")
_MD_MARKER = re.compile(r"^\s*<!--\s*skip-doc-test:\s*(?P<reason>.*?)\s*-->\s*$")
_RST_CODE = re.compile(
    r"^(?P<indent>\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*(?P<lang>\S*)\s*$"
)
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_MD_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>.*?)\s*$")


@dataclass
class Block:
    """One code block of a page.

    Attributes
    ----------
    path : Path
        The page.
    lineno : int
        The 1-based line of the block's first source line in the page.
    language : str
        ``"python"``, ``"doctest"`` or the language the page names (``"bash"``, ...).
    source : str
        The block's text, dedented; its lines are the page's lines from ``lineno`` on.
    skip_reason : str or None
        The reason of the ``skip-doc-test`` marker before the block, if any.
    """

    path: Path
    lineno: int
    language: str
    source: str
    skip_reason: str | None = None

    @property
    def runs(self) -> bool:
        """Whether the block is Python (or a doctest) and carries no skip marker."""
        return self.language in ("python", "doctest") and self.skip_reason is None

    @property
    def where(self) -> str:
        """``page:line``, for messages and test ids."""
        return f"{self.path.name}:{self.lineno}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indented_block(lines: list[str], start: int, parent: int) -> tuple[int, int]:
    """The ``[first, end)`` lines of the block indented past ``parent`` from ``start``.

    Leading blank lines are skipped; the block ends before the first non-blank line
    indented ``parent`` or less, and trailing blank lines are left out.
    """
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    first = i
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > parent):
        i += 1
    end = i
    while end > first and not lines[end - 1].strip():
        end -= 1
    return first, end


def _kind(language: str, source: str) -> str:
    if language.lower() in PYTHON_LANGUAGES:
        return "doctest" if source.lstrip().startswith(">>>") else "python"
    return language.lower() or "text"


def _rst_blocks(path: Path, lines: list[str]) -> list[Block]:
    """The code blocks of an RST page, in order."""
    blocks: list[Block] = []
    pending: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _RST_MARKER.match(line)
        code = _RST_CODE.match(line)
        if marker:
            pending = marker["reason"] or ""
            i += 1
            continue
        if code:
            parent = len(code["indent"])
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith(":"):
                j += 1  # directive options (:caption:, :emphasize-lines: ...)
            language = code["lang"] or "default"
        elif line.rstrip().endswith("::") and not _RST_DIRECTIVE.match(line):
            if line.lstrip().startswith(".."):  # a comment
                i += 1
                continue
            parent, j, language = _indent(line), i + 1, "default"
        elif line.lstrip().startswith(">>>"):
            first = i
            while i < len(lines) and lines[i].strip():
                i += 1
            source = textwrap.dedent("\n".join(lines[first:i]))
            blocks.append(Block(path, first + 1, "doctest", source, pending))
            pending = None
            continue
        else:
            i += 1
            continue
        first, end = _indented_block(lines, j, parent)
        if end > first:
            source = textwrap.dedent("\n".join(lines[first:end]))
            blocks.append(
                Block(path, first + 1, _kind(language, source), source, pending)
            )
            pending = None
        i = max(end, i + 1)
    if pending is not None:
        blocks.append(Block(path, len(lines), "dangling-marker", "", pending))
    return blocks


def _markdown_blocks(path: Path, lines: list[str]) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    blocks: list[Block] = []
    pending: str | None = None
    i = 0
    while i < len(lines):
        marker = _MD_MARKER.match(lines[i])
        fence = _MD_FENCE.match(lines[i])
        if marker:
            pending = marker["reason"] or ""
        elif fence:
            close = fence["fence"]
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(close):
                j += 1
            source = textwrap.dedent("\n".join(lines[i + 1 : j]))
            language = (fence["info"].split() or ["text"])[0]
            if language.lower() == "default":
                language = "text"
            blocks.append(Block(path, i + 2, _kind(language, source), source, pending))
            pending = None
            i = j
        i += 1
    if pending is not None:
        blocks.append(Block(path, len(lines), "dangling-marker", "", pending))
    return blocks


def page_blocks(path: Path, text: str | None = None) -> list[Block]:
    """The code blocks of a page, in order: Markdown for ``.md`` files, else RST.

    Parameters
    ----------
    path : Path
        The page (read when ``text`` is None).
    text : str, optional
        The page's text.

    Returns
    -------
    list of Block

    Examples
    --------
    >>> page = "Fit it::\\n\\n    x = 1\\n\\n.. code-block:: bash\\n\\n    ls\\n"
    >>> [(b.lineno, b.language) for b in page_blocks(Path("p.rst"), page)]
    [(3, 'python'), (7, 'bash')]
    >>> page = "<!-- skip-doc-test: a GPU -->\\n```python\\nx = 1\\n```\\n"
    >>> [(b.lineno, b.skip_reason) for b in page_blocks(Path("R.md"), page)]
    [(3, 'a GPU')]
    """
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    if path.suffix == ".md":
        return _markdown_blocks(path, lines)
    return _rst_blocks(path, lines)
