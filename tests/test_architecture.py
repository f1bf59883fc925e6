"""The package's shape, enforced: one top-level import name, layers without upward imports or cycles
(import-linter on the installed layout), no reads of another module's private names, and a plugin that
does not import torch unless robustcheck is used."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _installed_layout(dest: Path) -> Path:
    """The package tree as pip installs it: every listed package at its import path, read through the
    ``package-dir`` mapping (``robustcheck.defences`` from the repository's ``defences/``)."""
    mapping = SETUPTOOLS.get("package-dir", {})
    for pkg in SETUPTOOLS["packages"]:
        src = ROOT / mapping.get(pkg, pkg.replace(".", "/"))
        target = dest / pkg.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.py"):
            shutil.copy2(f, target / f.name)
    return dest


def test_packages_list_names_every_package_folder():
    """A new subpackage that is not in ``packages`` would be missing from every installed copy."""
    mapping = SETUPTOOLS.get("package-dir", {})
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "robustcheck").rglob("__init__.py")}
    found |= {
        "robustcheck." + ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "defences").rglob("__init__.py")
    }
    assert found == set(SETUPTOOLS["packages"])
    assert mapping == {"robustcheck.defences": "defences"}
    tops = {p.split(".")[0] for p in SETUPTOOLS["packages"]}
    assert tops == {"robustcheck"}, "robustcheck is the only top-level import name we install"


def test_layers_have_no_upward_imports_and_no_cycles(tmp_path):
    """import-linter's layer contract (pyproject.toml) on the installed layout. A layers contract also
    rules out cycles between layers; cycles inside one module's package are checked below."""
    layout = _installed_layout(tmp_path / "site")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True))",
        ],
        cwd=layout,
        env={"PYTHONPATH": str(layout), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_import_cycles_between_modules(tmp_path):
    import grimp

    layout = _installed_layout(tmp_path / "site")
    sys.path.insert(0, str(layout))
    try:
        graph = grimp.build_graph("robustcheck", cache_dir=None)
    finally:
        sys.path.remove(str(layout))
    # a cycle between two sibling packages or modules: each imports the other, directly or not
    cycles = []
    tops = sorted({".".join(m.split(".")[:2]) for m in graph.modules if m.count(".") >= 1})
    for i, a in enumerate(tops):
        for b in tops[i + 1 :]:
            if a.startswith(b + ".") or b.startswith(a + "."):
                continue
            if graph.chain_exists(importer=a, imported=b, as_packages=True) and graph.chain_exists(
                importer=b, imported=a, as_packages=True
            ):
                cycles.append((a, b))
    assert cycles == []


def _sources() -> list[Path]:
    return sorted((ROOT / "robustcheck").rglob("*.py")) + sorted((ROOT / "defences").rglob("*.py"))


def test_no_module_reads_another_modules_private_names():
    """``from robustcheck.x import _name`` and ``alias._name`` on an imported robustcheck module are
    reads of another module's private state (the engine's ``_memo`` was read from outside once)."""
    offences = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("robustcheck"):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        offences.append(f"{path.name}: from {node.module} import {a.name}")
                    aliases.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("robustcheck"):
                        aliases.add((a.asname or a.name).split(".")[0])
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and (node.value.id in aliases or node.value.id in {"engine", "eng"})
            ):
                offences.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offences == []


def test_importing_the_plugin_does_not_import_torch():
    """Every pytest run of every user who installed robustcheck imports the plugin: without
    ``--robustcheck`` and without a suite, torch (1–2 s) is not imported."""
    code = textwrap.dedent(
        """
        import sys
        import robustcheck.plugin
        import robustcheck
        from robustcheck import ConfigError, register_defence
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_public_names_for_defence_authors_come_from_robustcheck():
    import robustcheck
    from robustcheck.defences.base import BaseDefence, FitContext

    assert robustcheck.BaseDefence is BaseDefence and robustcheck.FitContext is FitContext
    assert callable(robustcheck.register_defence)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        robustcheck.Nope  # noqa: B018


def test_a_users_own_defences_package_does_not_collide(pytester):
    """A team repository with its own ``defences`` package (the layout our README suggests) runs plain
    pytest and ``pytest --robustcheck`` with robustcheck installed."""
    pytester.makepyfile(
        **{
            "defences/__init__.py": "DEFENCES = ['mine']\n",
            "defences/mine.py": textwrap.dedent(
                """
                import torch
                from robustcheck import BaseDefence, register_defence


                @register_defence("team-clip", replace=True)
                class Clip(BaseDefence):
                    is_purifier = True

                    def purify(self, x):
                        return x.clamp(0.05, 0.95)
                """
            ),
            "test_plain.py": (
                "from defences import DEFENCES\n\ndef test_mine():\n    assert DEFENCES == ['mine']\n"
            ),
            "suites/team.py": textwrap.dedent(
                """
                import defences.mine  # noqa: F401  (the team's own package, registers team-clip)
                from robustcheck import Attack, Scale, Suite

                SUITE = Suite(
                    name="team",
                    dataset="digits-8x8",
                    classifier="shape-cnn",
                    defences=["team-clip"],
                    attacks=[Attack("fgsm", eps=0.1)],
                    threat_models=["grey-box"],
                    scales={
                        "smoke": Scale(n_samples=16, train_limit=200, classifier_epochs=1, defence_epochs=1)
                    },
                )
                """
            ),
        }
    )
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_plain.py")
    plain.assert_outcomes(passed=1)
    gated = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--robustcheck",
        "--robustcheck-scale=smoke",
        f"--robustcheck-cache-dir={pytester.path / 'cache'}",
        "suites/team.py",
        "test_plain.py",
    )
    gated.assert_outcomes(passed=2)
