"""paperlens installed from a wheel, outside the checkout: it ingests and answers with citations.

The wheel is built from a copy of the sources (so the checkout gets no build/ folder) and
installed with ``--no-deps`` into a fresh virtual environment in a temporary folder. Offline
and fast: the environment sees the dev environment's third-party packages through a .pth
file (a .pth in a folder that a .pth adds is not run, so the checkout's editable install
stays invisible), and the test asserts that `assistant` is imported from the new
environment, not from the checkout. Every command runs from an empty temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from conftest import FIXTURE_DATA, REPO_ROOT

pytestmark = pytest.mark.slow


QUESTION = "Which papers combine lexical and dense retrieval?"


def _sources(dest: Path) -> Path:
    """Copy what the wheel is built from (the packages, prompts/, pyproject, README)."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tool = config["tool"]["setuptools"]
    folders = {name.split(".")[0] for name in tool["packages"]}
    folders |= set(tool.get("package-dir", {}).values())
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in sorted(folders):
        shutil.copytree(REPO_ROOT / folder, dest / folder, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, dest / name)
    return dest


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv holding the wheel of paperlens; its bin folder and an environment."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    src = _sources(root / "src")
    pip = [sys.executable, "-m", "pip"]
    _run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(src),
        ],
        root,
        env,
    )
    wheel = next((root / "dist").glob("paperlens-*.whl"))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, env)
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env
    ).stdout.strip()
    (Path(site) / "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        root,
        env,
    )
    return venv / "bin", env


def test_wheel_imports_from_the_new_environment_with_its_data_files(installed, tmp_path):
    bin_dir, env = installed
    code = (
        "import importlib.util, json, assistant\n"
        "from assistant.llm.prompts import load_prompt\n"
        "web = importlib.util.find_spec('paperlens.web').submodule_search_locations[0]\n"
        "print(json.dumps({'assistant': assistant.__file__, 'web': web,\n"
        "                  'prompts': sorted(load_prompt(n).name for n in ('answer', 'rewrite'))}))"
    )
    got = json.loads(_run([str(bin_dir / "python"), "-c", code], tmp_path, env).stdout)
    venv = bin_dir.parent.resolve()
    assert Path(got["assistant"]).resolve().is_relative_to(venv)
    assert not Path(got["assistant"]).resolve().is_relative_to(REPO_ROOT)
    assert got["prompts"] == ["answer", "rewrite"]
    assert (Path(got["web"]) / "style.css").is_file()
    assert Path(got["web"]).resolve().is_relative_to(venv)


def test_installed_cli_ingests_a_folder_and_answers_with_a_citation(installed, tmp_path):
    bin_dir, env = installed
    papers = tmp_path / "papers"
    papers.mkdir()
    for name in ("retrieval.jsonl", "sparse_denoisers.md"):
        shutil.copy2(FIXTURE_DATA / name, papers / name)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {**env, "PAPERLENS_DATA_DIR": str(tmp_path / "data")}
    report = json.loads(
        _run([str(bin_dir / "paperlens"), "ingest", "--json", "-q", str(papers)], cwd, env).stdout
    )
    assert report["added"] and not report["skipped"]
    answer = json.loads(
        _run([str(bin_dir / "paperlens"), "ask", "--json", QUESTION], cwd, env).stdout
    )
    assert answer["citations"], answer["text"]
    titles = {s["n"]: s["title"] for s in answer["sources"]}
    cited = {c["n"] for c in answer["citations"]}
    assert "Lexical and Dense Hybrid Ranking" in {titles[n] for n in cited}
    for n in cited:
        assert f"[{n}]" in answer["text"]
    assert not (cwd / "prompts").exists() and not any(cwd.iterdir())


def test_map_without_matplotlib_names_the_package_to_install(monkeypatch, tmp_path):
    from assistant import ConfigError, render_png

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(ConfigError) as caught:
        render_png(None, tmp_path / "map.png")  # type: ignore[arg-type]  # fails before use
    assert str(caught.value) == "drawing the map needs matplotlib - pip install matplotlib"
