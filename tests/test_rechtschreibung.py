"""German spell check of every markdown cell (pyspellchecker's German dictionary + reviewed word list)."""

import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "source").glob("*/*.ipynb"))

_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
_NBGRADER_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$", re.M)
_LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+|<[^>]+>")
_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]+")
# Formal address ("Sie", "Ihnen", "Ihr ...") in the middle of a sentence: the course uses du-Form.
_FORMAL = re.compile(r"(?<![.!?:\n#*>-]\s)(?<!^)\b(Sie|Ihnen|Ihre?[mnrs]?)\b", re.M)


@cache
def checker():
    from spellchecker import SpellChecker

    spell = SpellChecker(language="de")
    words = []
    for path in sorted(Path(__file__).parent.glob("wortliste*.txt")):
        words += [
            w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip() and not w.startswith("#")
        ]
    spell.word_frequency.load_words(words)
    return spell


def prose(markdown: str) -> str:
    for pattern in (_NBGRADER_MARKER, _CODE, _MATH, _LINK_TARGET):
        markdown = pattern.sub(" ", markdown)
    return markdown


def unknown_words(text: str) -> set[str]:
    words = {w for w in _WORD.findall(prose(text)) if len(w) > 1}
    return set(checker().unknown(words))


def test_checker_finds_typos():
    """The check is real: the typos of the seed material are found, correct words pass."""
    assert unknown_words("Es sollte immmer stimmen, die Reigenfolge der Zifferen.") == {
        "immmer",
        "reigenfolge",
        "zifferen",
    }
    assert unknown_words("Die Gewichte der Neuronen werden in jeder Epoche angepasst (`x_rnd`, $w_1$).") == set()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_markdown_spelling(path):
    nb = nbformat.read(path, as_version=4)
    problems = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            bad = unknown_words(cell.source)
            if bad:
                problems[index] = sorted(bad)
    assert not problems, f"unknown words (cell index -> words): {problems}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_du_form(path):
    nb = nbformat.read(path, as_version=4)
    formal = [
        (index, m.group(0))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for m in _FORMAL.finditer(prose(cell.source))
    ]
    assert not formal, f"formal address in du-Form course (cell index, word): {formal}"
