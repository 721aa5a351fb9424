"""The built wheel, installed in a fresh venv outside the checkout, runs the demo as a new user would.

The demo runs for 20 s (``--for 20s``) in a real terminal (tmux), from a
folder outside the checkout, with nothing of the checkout on ``sys.path``;
the commands it prints on exit are then run exactly as printed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_kit import close_private_tmux, private_tmux

ROOT = Path(__file__).resolve().parents[2]

# The wheel is built once, in the source tree's build/: all these tests run in one test process.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel_build")]


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user who never saw the checkout: no PYTHONPATH, no venv of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(the venv's cutover-tui, a folder outside the checkout, its environment), from the wheel built now."""
    outside = tmp_path_factory.mktemp("user")
    assert not outside.is_relative_to(ROOT)
    dist = outside / "dist"
    venv = outside / "venv"
    env = clean_env(outside)
    # A venv of its own, without a pip of its own: the installer runs from this venv and installs into it
    # (``--python``), which spares unpacking pip into it (6 s); the packages' bytecode is left to the first start.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # uv (which `make test` installs) builds and installs in about 3 s of CPU (into an empty cache of the user's own,
    # as `HOME` is); `build` and pip took 17.
    uv = Path(sys.executable).with_name("uv")
    if uv.exists():
        build_argv = [str(uv), "build", "--wheel", "--out-dir", str(dist), str(ROOT)]
        install_argv = [str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    else:
        build_argv = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)]
        install_argv = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                        "--no-compile"]  # fmt: skip
    build = subprocess.run(build_argv, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    assert "License classifiers are deprecated" not in build.stderr and "project.license" not in build.stderr
    (wheel,) = dist.glob("cutover_tui-*.whl")
    done = subprocess.run([*install_argv, str(wheel)], capture_output=True, text=True, timeout=600, env=env,
                          cwd=outside)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin" / "cutover-tui", outside, env


def test_the_installed_package_is_not_the_checkout(installed) -> None:
    """The venv imports cutover_tui and its sample runbooks from itself, not from the source tree."""
    exe, outside, env = installed
    python = exe.parent / "python"
    done = subprocess.run([str(python), "-c", "import cutover_tui, cutover_tui.sample_runbooks as s; "
                           "print(cutover_tui.__file__); print(s.DIRECTORY)"],
                          capture_output=True, text=True, cwd=outside, env=env, timeout=60)  # fmt: skip
    package, samples = done.stdout.split()
    assert Path(package).is_relative_to(outside / "venv") and Path(samples).is_relative_to(outside / "venv")
    assert (Path(samples) / "demo.yaml").is_file()


def test_demo_help_runs_from_outside_the_checkout(installed) -> None:
    """`cutover-tui demo --help` from the installed wheel exits 0 and names --with-prometheus and --for."""
    exe, outside, env = installed
    done = subprocess.run(
        [str(exe), "demo", "--help"], capture_output=True, text=True, cwd=outside, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--with-prometheus" in done.stdout and "--for DURATION" in done.stdout


def test_a_20_second_demo_runs_and_its_printed_commands_run_as_printed(installed) -> None:
    """The installed demo runs 20 s in a real terminal, ends by itself, and verify/report run exactly as it printed them."""
    if shutil.which("tmux") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("needs Debian package 'tmux'")
        pytest.skip("needs Debian package 'tmux'")
    exe, outside, env = installed
    name = f"install{os.getpid()}-{time.monotonic_ns()}"
    tmux = private_tmux(name)
    script = f'cd {shlex.quote(str(outside))} && {shlex.quote(str(exe))} demo --for 20s; echo "demo exited with $?"; sleep 60'
    env_args = [arg for key in ("HOME", "PATH") for arg in ("-e", f"{key}={env[key]}")]
    subprocess.run([*tmux, "new", "-d", "-s", name, "-x", "140", "-y", "40", *env_args, script], check=True)
    try:

        def screen() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-t", name], capture_output=True, text=True
            ).stdout

        started = time.monotonic()
        seen_dashboard = False
        while "demo exited with" not in (text := screen()):
            seen_dashboard = seen_dashboard or ("Demo go-live" in text and "auth_errors" in text)
            assert time.monotonic() - started < 90, text
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        text = screen()
        close_private_tmux(tmux)
    assert seen_dashboard, text
    assert "demo exited with 0" in text and 19 <= elapsed < 60, (elapsed, text)
    commands = dict(re.findall(r"^\s+(replay it|report|verify|what if):\s+(.+)$", text, flags=re.M))
    assert set(commands) == {"replay it", "report", "verify", "what if"}, text
    for key in ("verify", "report", "what if"):
        argv = shlex.split(commands[key])
        assert argv[0] == str(exe) and Path(argv[2]).is_absolute()
        done = subprocess.run(argv + (["-o", "-"] if key != "verify" else []), capture_output=True, text=True,
                              cwd="/", env=env, timeout=120)  # fmt: skip
        assert done.returncode == 0, (key, done.stdout[-1000:], done.stderr[-1000:])
        if key == "what if":
            assert "## What if" in done.stdout and "> 2% for 2m" in done.stdout, done.stdout[-2000:]
    verified = subprocess.run(
        shlex.split(commands["verify"]), capture_output=True, text=True, cwd="/", env=env, timeout=60
    )
    assert "verified" in verified.stdout
    status = subprocess.run([str(exe), "status", shlex.split(commands["verify"])[-1]], capture_output=True, text=True,
                            cwd="/", env=env, timeout=60)  # fmt: skip
    assert status.returncode == 0 and "session ended (abandoned)" in status.stdout, status.stdout + status.stderr
