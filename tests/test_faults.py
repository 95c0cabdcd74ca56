"""Faults for real: pipes that close, full and closed streams, FIFOs, devices, links, signals
mid-run, resource limits, hostile .npy headers. Each one ends in one line or works, and no
file is lost, clobbered, left partial or changed in mode."""

from __future__ import annotations

import io
import os
import signal
import stat
import struct
import subprocess
import time
from pathlib import Path

import helpers
import numpy as np
import pytest
import typer.main
from helpers import DECONV

from deconv_cli import cli

LIMIT = 60  # seconds any one invocation may take, loaded machine included


def deconv(*args: str, cwd: Path, **options: object) -> subprocess.CompletedProcess[bytes]:
    return helpers.deconv(*args, cwd=cwd, timeout=LIMIT, **options)


def shell(script: str, cwd: Path, **options: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PATH": f"{Path(DECONV).parent}:{os.environ['PATH']}"}
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        ["bash", "-c", script], cwd=cwd, timeout=LIMIT, check=False, capture_output=True, env=env, **options
    )


def one_line(stderr: bytes, text: str) -> None:
    assert stderr.startswith(b"deconv: error: ")
    assert stderr.count(b"\n") == 1
    assert text.encode() in stderr


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((2, 16, 16, 4)))
    np.save(tmp_path / "w.npy", rng.standard_normal((3, 3, 4, 4)))
    return tmp_path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".deconv"))


# streams


def test_a_closed_pipe_ends_deconv_as_it_ends_cat(work):
    result = shell('deconv run x.npy -w w.npy --s 8 | head -c 10 > /dev/null; echo "${PIPESTATUS[0]}"', work)
    assert (result.stdout, result.stderr) == (b"141\n", b"")


@pytest.mark.parametrize(
    "command", ["run x.npy -w w.npy", "shape --in 16 --k 3 --s 2", "overlap --k 3 --s 2"]
)
def test_a_full_stdout_is_one_line_exit_1(work, command):
    with open("/dev/full", "wb") as full:
        result = deconv(*command.split(), cwd=work, stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 1
    one_line(result.stderr, "cannot write stdout: No space left on device")


@pytest.mark.parametrize("command", ["run x.npy -w w.npy", "shape --in 16 --k 3 --s 2"])
def test_a_closed_stdout_is_one_line_exit_1(work, command):
    result = shell(f"deconv {command} >&-", work)
    assert result.returncode == 1
    one_line(result.stderr, "cannot write stdout: stdout is closed")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("run - -w w.npy", "cannot read input stdin: stdin is closed"),
        ("net -", "cannot read stdin: stdin is closed"),
    ],
)
def test_a_closed_stdin_is_one_line_exit_1(work, command, message):
    result = shell(f"deconv {command} <&- > /dev/null", work)
    assert result.returncode == 1
    one_line(result.stderr, message)


def test_a_broken_completion_request_completes_nothing_without_a_traceback():
    env = {**os.environ, "_DECONV_COMPLETE": "complete_bash", "COMP_WORDS": "deconv", "COMP_CWORD": "abc"}
    result = helpers.deconv(env=env)
    assert (result.returncode, result.stdout, result.stderr) == (1, b"", b"")


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (["run", "x.npy"], True),
        (["explain", "--in", "3"], True),
        (["convert", "w.npy"], False),
        (["net"], False),
    ],
)
def test_out_of_memory_advises_max_memory_only_to_the_commands_that_have_it(words, offered):
    group = typer.main.get_command(cli.app)
    assert group._offers(words, "--max-memory") is offered


def test_closed_stdout_does_not_matter_when_the_output_is_a_file(work):
    result = shell("deconv run x.npy -w w.npy -o y.npy >&-", work)
    assert (result.returncode, result.stderr) == (0, b"")
    assert np.load(work / "y.npy").shape == (2, 18, 18, 4)


@pytest.mark.parametrize(
    "script",
    [
        "deconv run <(cat x.npy) -w w.npy > y.npy",
        "deconv run /dev/stdin -w w.npy < x.npy > y.npy",
        "cat x.npy | deconv run /dev/stdin -w w.npy > y.npy",
        "mkfifo in.fifo && (cat x.npy > in.fifo &) && deconv run in.fifo -w w.npy > y.npy",
        "deconv run x.npy -w <(cat w.npy) -o >(cat > y.npy); sleep 0.5",
    ],
)
def test_non_seekable_inputs_and_outputs_work(work, script):
    result = shell(script, work)
    assert (result.returncode, result.stderr) == (0, b"")
    expected = shell("deconv run x.npy -w w.npy", work).stdout
    assert (work / "y.npy").read_bytes() == expected


def test_a_fifo_output_is_written_in_place_and_stays_a_fifo(work):
    os.mkfifo(work / "out.fifo")
    reader = subprocess.Popen(["cat", str(work / "out.fifo")], stdout=subprocess.PIPE)
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", "out.fifo", cwd=work)
    data, _ = reader.communicate(timeout=LIMIT)
    assert (result.returncode, result.stderr) == (0, b"")
    assert np.load(io.BytesIO(data)).shape == (2, 18, 18, 4)
    assert stat.S_ISFIFO(os.stat(work / "out.fifo").st_mode)
    assert leftovers(work) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could replace /dev/null")
def test_dev_null_as_root_stays_a_device(work):
    before = os.stat("/dev/null")
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", "/dev/null", cwd=work)
    after = os.stat("/dev/null")
    assert (result.returncode, result.stderr) == (0, b"")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_a_symlink_output_survives_and_its_target_is_replaced(work):
    (work / "real.npy").write_bytes(b"old")
    (work / "link.npy").symlink_to("real.npy")
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", "link.npy", cwd=work)
    assert (result.returncode, result.stderr) == (0, b"")
    assert (work / "link.npy").is_symlink()
    assert np.load(work / "real.npy").shape == (2, 18, 18, 4)


def test_a_hard_linked_output_is_replaced_under_its_name_and_its_other_names_keep_the_old(work):
    (work / "y.npy").write_bytes(b"old")
    (work / "other.npy").hardlink_to(work / "y.npy")
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", "y.npy", cwd=work)
    assert (result.returncode, result.stderr) == (0, b"")
    assert np.load(work / "y.npy").shape == (2, 18, 18, 4)
    assert (work / "other.npy").read_bytes() == b"old"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_an_existing_output_keeps_its_permissions(work, mode):
    target = work / "y.npy"
    target.write_bytes(b"old")
    target.chmod(mode)
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", "y.npy", cwd=work)
    assert result.returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert np.load(target).shape == (2, 18, 18, 4)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_output_is_refused_and_left_alone(work):
    target = work / "y.npy"
    target.write_bytes(b"precious")
    target.chmod(0o444)
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", "y.npy", cwd=work)
    assert result.returncode == 1
    assert target.read_bytes() == b"precious"


def test_the_output_is_checked_before_any_input_is_read(work):
    result = deconv("run", "missing.npy", "-w", "w.npy", "-o", "no/such/dir/y.npy", cwd=work)
    assert result.returncode == 1
    one_line(result.stderr, "cannot write 'no/such/dir/y.npy': No such file or directory")


def test_a_directory_output_is_refused(work):
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", ".", cwd=work)
    assert result.returncode == 1
    one_line(result.stderr, "cannot write '.': it is a directory")


def test_a_name_at_the_filesystems_length_limit_works(work):
    name = "y" * (os.pathconf(work, "PC_NAME_MAX") - 4) + ".npy"
    result = deconv("run", "x.npy", "-w", "w.npy", "-o", name, cwd=work)
    assert (result.returncode, result.stderr) == (0, b"")
    assert np.load(work / name).shape == (2, 18, 18, 4)
    assert leftovers(work) == []


# hostile .npy files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            npy_header((10**6, 10**6)),
            "declares shape (1000000, 1000000) float64 = 7.3 TiB, more than --max-memory",
        ),
        (
            npy_header((1, 2, 2, 4)) + b"\0" * 100,
            "is truncated: its header declares 128 bytes of data, it holds 100",
        ),
        (os.urandom(64).replace(b"\x93", b"!"), "is not a .npy file"),
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"{'descr': '<f8', 'sh", "has a broken .npy header"),
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", 8) + b"{'a': (1", "has a broken .npy header"),
        (b"\x93NUMPY\x02\x00" + struct.pack("<I", 200000) + b"{", "has a .npy header of 200000 bytes"),
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", 40) + b"{", "is truncated inside its .npy header"),
        (npy_header((4,), "|O"), "holds Python objects"),
        (npy_header((4,), "<f16"), "(longdouble)"),
        (npy_header((4,), "<c8"), "only real numbers are supported"),
        (b"PK\x03\x04" + b"\0" * 40, "is an .npz archive"),
    ],
)
@pytest.mark.parametrize("source", ["file", "pipe"])
def test_hostile_headers_are_one_line_exit_1(work, content, message, source):
    (work / "bad.npy").write_bytes(content)
    args = ("run", "bad.npy" if source == "file" else "-", "-w", "w.npy")
    start = time.monotonic()
    result = deconv(*args, cwd=work, input=None if source == "file" else content)
    assert result.returncode == 1
    one_line(result.stderr, message)
    assert time.monotonic() - start < LIMIT / 2


def test_endless_zeros_on_stdin_are_not_a_npy_file(work):
    with open("/dev/zero", "rb") as zeros:
        result = deconv("run", "-", "-w", "w.npy", cwd=work, stdin=zeros)
    assert result.returncode == 1
    one_line(result.stderr, "input stdin is not a .npy file")


def test_an_astronomical_output_is_refused_before_reading_the_input(work):
    start = time.monotonic()
    result = deconv("run", "x.npy", "-w", "w.npy", "--s", "999999999", cwd=work)
    assert result.returncode == 1
    one_line(result.stderr, "the result would have shape (2, 14999999988, 14999999988, 4) float64 = ")
    assert time.monotonic() - start < LIMIT / 2


def test_a_budget_too_small_names_the_smallest_that_works(work):
    result = deconv("run", "x.npy", "-w", "w.npy", "--max-memory", "40K", cwd=work)
    assert result.returncode == 1
    one_line(result.stderr, "more than --max-memory 40.0 KiB; give --max-memory 1M or more")
    assert deconv("run", "x.npy", "-w", "w.npy", "--max-memory", "1M", cwd=work).returncode == 0


def test_nan_input_prints_no_warnings(work):
    np.save(work / "nan.npy", np.full((1, 4, 4, 4), np.nan))
    result = deconv("run", "nan.npy", "-w", "w.npy", cwd=work)
    assert (result.returncode, result.stderr) == (0, b"")
    assert np.isnan(np.load(io.BytesIO(result.stdout))).all()


def test_ascii_terminal_encoding_replaces_what_it_cannot_show(work):
    result = deconv(
        "explain",
        "--in",
        "3",
        "--k",
        "3",
        "--s",
        "2",
        cwd=work,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert b"? inserted zero" in result.stdout


# resource limits: set by the shell, so no fork hook (JAX warns on os.fork) runs in the tests


def test_a_file_size_limit_fails_in_one_line_and_leaves_nothing(work):
    (work / "y.npy").write_bytes(b"precious")
    result = shell("ulimit -f 4 && exec deconv run x.npy -w w.npy -o y.npy", work)  # 4 KiB
    assert result.returncode == 1
    one_line(result.stderr, "cannot write 'y.npy': File too large")
    assert (work / "y.npy").read_bytes() == b"precious"
    assert leftovers(work) == []


def test_an_address_space_limit_fails_in_one_line(work):
    np.save(work / "big.npy", np.zeros((4, 64, 64, 4), dtype=np.float32))
    # 1 GiB of address space; one BLAS thread, as many threads' buffers would not fit
    result = shell(
        "ulimit -v 1048576 && OPENBLAS_NUM_THREADS=1 "
        "exec deconv run big.npy -w w.npy --s 64 --max-memory 64G",
        work,
    )
    assert result.returncode == 1
    one_line(result.stderr, "out of memory")


# signals


def _blocked_run(work: Path, target: Path):  # type: ignore[no-untyped-def]
    """A run that has created its temporary output and waits for the rest of its input."""
    fifo = work / "in.fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [DECONV, "run", "in.fifo", "-w", "w.npy", "-o", target.name],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    writer = open(fifo, "wb")  # noqa: SIM115 - held open: deconv waits for the rest of the data
    writer.write(npy_header((2, 16, 16, 4)) + b"\0" * 1000)
    writer.flush()
    deadline = time.monotonic() + LIMIT
    while not leftovers(work) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(work), "the run never created its temporary file"
    time.sleep(0.3)
    return process, writer


@pytest.mark.parametrize(
    ("number", "code"),
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGHUP, -signal.SIGHUP), (signal.SIGINT, 130)],
)
def test_signals_mid_run_remove_the_temporary_file_and_keep_the_old_output(work, number, code):
    target = work / "y.npy"
    target.write_bytes(b"precious")
    target.chmod(0o600)
    process, writer = _blocked_run(work, target)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=LIMIT)
    writer.close()
    assert process.returncode == code
    assert leftovers(work) == []
    assert target.read_bytes() == b"precious"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    if number == signal.SIGINT:
        assert stderr == b"\ndeconv: error: interrupted\n" or stderr == b"deconv: error: interrupted\n"
    else:
        assert stderr == b""


# bounded work: parameters' values cost nothing


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (
            "--k 1000000 --s 999999",
            "uneven: taps per position 2 at 1 positions, 1 at 999998 (max/min 2.0); "
            "even alternatives: k=999999, k=1999998\n",
        ),
        (
            "--k 3 --s 100000000",
            "uneven: taps per position 1 at 3 positions, 0 at 99999997 "
            "(holes: 99999997 of 100000000 positions get no tap); even alternatives: k=100000000\n",
        ),
    ],
)
def test_overlap_of_huge_strides_answers_at_once(work, args, stdout):
    start = time.monotonic()
    result = deconv("overlap", *args.split(), cwd=work)
    assert (result.returncode, result.stdout.decode(), result.stderr) == (0, stdout, b"")
    assert time.monotonic() - start < LIMIT / 4


def test_explains_stages_of_a_huge_stride_are_made_on_demand():
    from deconv_cli.core.explain import full, inserted, padded
    from deconv_cli.core.geometry import Axis, Layer, Steps

    axis = Axis(3, 3, 999_999_999)
    steps = Steps.of(axis, Layer.crop(axis, 1, 1))
    start = time.monotonic()
    lengths = [len(stage(steps)) for stage in (inserted, padded, full)]
    assert lengths == [1_999_999_999, 2_000_000_001, 2_000_000_001]
    assert [p.kind for p in padded(steps)[:3]] == ["zero", "value", "inserted"]
    assert full(steps)[-1].mark == "cut"
    assert time.monotonic() - start < 1
