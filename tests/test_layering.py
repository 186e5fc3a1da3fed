"""The layering rule holds: magicstomp, then analyzers and hil, then optimize, then cli.

A lower package never imports a higher one (nor a sibling of its layer) and no two
modules import each other round a loop, counting imports inside functions too.
The checker (``tests/import_layers.py``) is itself tested on a synthetic package.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from import_layers import LAYERS, import_cycles, import_edges, layer_violations

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(name for layer in LAYERS for name in layer)


def test_every_package_of_the_project_is_in_a_layer():
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk == set(PACKAGES)


def test_no_lower_package_imports_a_higher_one():
    bad = layer_violations(import_edges(ROOT, PACKAGES))
    assert not bad, "upward imports:\n" + "\n".join(map(str, bad))


def test_no_import_cycles_between_modules():
    cycles = import_cycles(import_edges(ROOT, PACKAGES))
    assert not cycles, f"import cycles: {cycles}"


def test_the_project_graph_is_seen():
    """Known edges of the project: a checker that sees nothing passes everything."""
    edges = {(e.importer, e.imported) for e in import_edges(ROOT, PACKAGES)}
    assert ("magicstomp.sysex", "magicstomp.sysex_assembler") in edges      # top level, relative
    assert ("analyzers.__main__", "magicstomp.console") in edges             # absolute
    assert ("hil.virtual_unit", "magicstomp.console") in edges              # inside main()
    assert len(edges) > 150


# -- the checker on a synthetic project --------------------------------------------------
SYNTHETIC_LAYERS = (("low",), ("mid_a", "mid_b"), ("top",))


def _write(root: Path, files: dict) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path):
    _write(tmp_path, {"low/__init__.py": "", "low/base.py": "X = 1\n",
                      "low/sub/__init__.py": "", "low/sub/deep.py": "from .. import base\n",
                      "mid_a/__init__.py": "", "mid_a/a.py": "from low.base import X\n",
                      "mid_b/__init__.py": "", "mid_b/b.py": "import low.sub.deep\n",
                      "top/__init__.py": "",
                      "top/cmd.py": "from mid_a import a\nfrom low import base\n"})
    return tmp_path


def _check(root):
    edges = import_edges(root, ("low", "mid_a", "mid_b", "top"))
    return edges, layer_violations(edges, SYNTHETIC_LAYERS), import_cycles(edges)


def test_a_clean_synthetic_project_passes(project):
    edges, bad, cycles = _check(project)
    assert {(e.importer, e.imported) for e in edges} == {
        ("low.sub.deep", "low.base"), ("mid_a.a", "low.base"), ("mid_b.b", "low.sub.deep"),
        ("top.cmd", "mid_a.a"), ("top.cmd", "low.base")}
    assert bad == [] and cycles == []


@pytest.mark.parametrize("source", [
    "import top.cmd\n",                                             # top level, absolute
    "from top import cmd\n",                                        # from-import of a module
    "def run():\n    from top.cmd import main\n    return main\n",  # inside a function
    "class K:\n    def m(self):\n        import top\n",            # inside a method, the package
])
def test_an_upward_import_fails(project, source):
    _write(project, {"low/extra.py": source})
    _, bad, _ = _check(project)
    assert [(e.importer, e.imported.split(".")[0]) for e in bad] == [("low.extra", "top")]
    assert str(bad[0]).startswith(str(Path("low") / "extra.py"))


def test_a_sibling_import_fails(project):
    _write(project, {"mid_a/uses_b.py": "from mid_b.b import Y\n"})
    _, bad, _ = _check(project)
    assert [(e.importer, e.imported) for e in bad] == [("mid_a.uses_b", "mid_b.b")]


def test_a_cycle_fails_even_through_a_late_import(project):
    _write(project, {"low/one.py": "from .two import f\n",
                     "low/two.py": "def f():\n    from . import three\n",
                     "low/three.py": "from low.one import f\n"})
    _, bad, cycles = _check(project)
    assert bad == []
    assert cycles == [["low.one", "low.three", "low.two"]]


def test_a_package_outside_every_layer_is_refused(project):
    _write(project, {"stray/__init__.py": "", "stray/s.py": "import low\n"})
    edges = import_edges(project, ("low", "stray"))
    with pytest.raises(ValueError, match="'stray' is in no layer"):
        layer_violations(edges, SYNTHETIC_LAYERS)
