"""A non-editable install works: the wheel carries the desk's style sheet and icons, and the
build itself warns about nothing (no deprecated `project.license` table).

The wheel is built from the repository, installed with --no-deps into a fresh venv outside
it (the dependencies come from the test's own environment through a path file, so nothing
is downloaded), and `contract-desk --offline` starts from there, offscreen.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    # The source is copied first, so the build leaves nothing (build/, *.egg-info) behind.
    source = out / "source"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = list(out.glob("contract_desk-*.whl"))
    assert len(wheels) == 1
    return wheels[0], done.stdout + done.stderr


def test_the_build_warns_about_nothing(built: tuple[Path, str]) -> None:
    _, output = built
    warnings = [
        line
        for line in output.splitlines()
        if re.search(r"Deprecat|BuildBackendWarning|SetuptoolsWarning", line)
    ]
    assert warnings == []


def test_the_wheel_carries_the_resources(built: tuple[Path, str]) -> None:
    wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    for resource in (
        "desktop/resources/style.qss",
        "desktop/resources/icons/contract-desk.svg",
        "desktop/resources/contract-desk.desktop",
    ):
        assert resource in names


def test_an_installed_desk_is_styled_and_finds_its_icon(
    built: tuple[Path, str], tmp_path: Path
) -> None:
    wheel, _ = built
    fresh = tmp_path / "fresh-venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    fresh_site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # Our dependencies from this environment, after the fresh venv's own packages. Its .pth
    # files (the editable install of the repository) are not read from a path entry.
    (fresh_site / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", wheel],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTRACTS_", "PYTHON"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    where = subprocess.check_output(
        [python, "-c", "import desktop; print(desktop.__file__)"], text=True, cwd=tmp_path, env=env
    )
    assert where.startswith(str(fresh)), where  # the installed copy, not the repository
    done = subprocess.run(
        [fresh / "bin" / "contract-desk", "--offline", "--quit-after", "2", "-v"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resources: style sheet loaded" in done.stderr, done.stderr[-3000:]
    assert "resources: icon contract-desk.svg loaded (64x64)" in done.stderr
    assert "missing from the installed package" not in done.stderr
