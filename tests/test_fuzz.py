"""A seeded fuzz run: 2,000+ hostile invocations of every command, in-process with a time limit
each, and a sample as real processes. 0 tracebacks, 0 hangs, exit codes 0/1/2/130, every error
one line, no file lost, clobbered, left partial or changed in mode.

Reproduce one failure with ``FUZZ_SEED=<seed> pytest tests/test_fuzz.py``: every case names
its index and arguments.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import DECONV
from typer.testing import CliRunner

from deconv_cli import cli

SEED = int(os.environ.get("FUZZ_SEED", "20261129"))
IN_PROCESS = 2000
SUBPROCESS = 40
TIME_LIMIT = 20  # seconds per invocation; the arithmetic takes milliseconds
CODES = {0, 1, 2, 130}

SMALL = ["0", "-1", "1", "2", "3", "4", "7", "16", "64", "100", "01", "-0", "+2"]
JUNK = [
    "",
    " ",
    ",",
    "1,,2",
    "3,",
    ",3",
    "a",
    "1e3",
    "2.5",
    "0x10",
    "nan",
    "１",
    "é",
    "\x00",
    "1:2",
    "--",
    "9" * 400,
]
LISTS = ["2,3", "3,3,3", "1,2,3,4", "4,4", "2, 3"]
HUGE = ["999999999", "100000000", "2147483648", "99999999999999999999999", "1000000"]
PADDINGS = [
    "valid",
    "same",
    "same_lower",
    "SAME",
    "Same_Lower",
    "full",
    "1:2",
    "2:-1",
    "-1:0",
    "1:2:3",
    "0:0,1:1",
]
FRAMEWORKS = ["tf", "torch", "keras", "onnx", "jax", "caffe", "TF", ""]
MEMORY = ["1G", "1", "0", "512M", "1K", "lots", "-1", "999999T", "64k", "2GB", "1.5G"]


class Hang(BaseException):
    """An invocation ran past TIME_LIMIT."""


def _alarm(_number: int, _frame: object) -> None:
    raise Hang


def number(rng: random.Random) -> str:
    """Mostly plausible values, so most invocations reach the work; a fifth are hostile."""
    draw = rng.random()
    pool = SMALL if draw < 0.7 else LISTS if draw < 0.8 else JUNK if draw < 0.9 else HUGE
    return rng.choice(pool)


def layer_options(rng: random.Random, names: tuple[str, ...], extras: str = "pfj") -> list[str]:
    """Values for ``names``, and ``extras``: p --padding, f -f, j --json (where the command has them)."""
    args: list[str] = []
    for name in names:
        if rng.random() < (0.9 if name in ("--in", "--k", "--out") or names[:2] == ("--k", "--s") else 0.35):
            args += [name, number(rng)]
    if "p" in extras and rng.random() < 0.4:
        args += ["--padding", rng.choice(PADDINGS + SMALL[:4] + JUNK[:3])]
    if "f" in extras and rng.random() < 0.3:
        args += ["-f", rng.choice(FRAMEWORKS[:5] * 3 + FRAMEWORKS)]
    if "j" in extras and rng.random() < 0.2:
        args += ["--json"]
    return args


FILES = [
    "x.npy",
    "w.npy",
    "bias.npy",
    "bad.npy",
    "trunc.npy",
    "empty.npy",
    "obj.npy",
    "huge.npy",
    "-",
    "missing.npy",
    "sub",
]
TARGETS = [
    "out.npy",
    "private.npy",
    "link.npy",
    "readonly.npy",
    "sub",
    "sub/new.npy",
    "missing/y.npy",
    "x.npy",
    "-",
]


def invocation(rng: random.Random) -> list[str]:
    """One hostile command line; every command sees huge values too (work must not grow with them)."""
    command = rng.choice(
        ["shape"] * 3 + ["pad"] * 2 + ["run"] * 5 + ["explain"] * 2 + ["overlap"] * 2 + ["help", "junk"]
    )
    if command == "help":
        return [
            *rng.sample(
                ["shape", "pad", "run", "explain", "overlap", "--help", "--version", "-h"], rng.randint(0, 2)
            ),
            "--help",
        ]
    if command == "junk":
        return rng.choice(
            [[], ["nope"], ["shape", "--nope"], ["--in", "3"], ["run"], ["shape", "--in"], ["pad", "-f"]]
        )
    if command == "shape":
        args = ["shape", *layer_options(rng, ("--in", "--k", "--s", "--d", "--op", "--output-shape"))]
        if rng.random() < 0.15:
            args += ["--emit", rng.choice(FRAMEWORKS)]
    elif command == "pad":
        args = ["pad", *layer_options(rng, ("--in", "--out", "--k", "--s", "--d"), "fj")]
        if rng.random() < 0.3:
            args += [rng.choice(["--max-k", "--max-s", "--limit"]), rng.choice(SMALL + JUNK[:4])]
        if rng.random() < 0.1:
            args += ["--emit", rng.choice(FRAMEWORKS)]
    elif command == "overlap":
        args = ["overlap", *layer_options(rng, ("--k", "--s", "--d"), "j")]
    elif command == "explain":
        args = [
            "explain",
            *layer_options(rng, ("--in", "--k", "--s", "--d", "--op", "--output-shape"), "pf"),
        ]
        if rng.random() < 0.4:
            args += ["--values", rng.choice(FILES)]
        if rng.random() < 0.3:
            args += ["--weight", rng.choice(FILES)]
        if rng.random() < 0.3:
            args += ["--ones"]
        if rng.random() < 0.15:
            args += ["--svg", rng.choice(TARGETS)]
        if rng.random() < 0.1:
            args += ["--max-memory", rng.choice(MEMORY)]
    else:
        args = ["run", rng.choice(FILES[:3] * 3 + FILES)]
        if rng.random() < 0.95:
            args += ["-w", rng.choice(FILES[:2] * 3 + FILES)]
        if rng.random() < 0.2:
            args += ["-b", rng.choice(FILES)]
        if rng.random() < 0.5:
            args += ["-o", rng.choice(TARGETS)]
        args += layer_options(rng, ("--s", "--d", "--op", "--output-shape"), "pf")
        if rng.random() < 0.3:
            args += ["--groups", rng.choice(SMALL + JUNK[:4])]
        if rng.random() < 0.2:
            args += ["--layout", rng.choice(["channels_first", "channels_last", "nhwc", ""])]
        if rng.random() < 0.3:
            args += ["--max-memory", rng.choice(MEMORY)]
    if rng.random() < 0.05:
        args.insert(rng.randrange(len(args) + 1), rng.choice(["--help", "--nope", "-", "--"]))
    return args


def stdin_for(rng: random.Random, folder: Path) -> bytes:
    return rng.choice([(folder / "x.npy").read_bytes(), b"", b"\x93NUMPY garbage", os.urandom(64)])


def make_files(folder: Path) -> None:
    rng = np.random.default_rng(0)
    np.save(folder / "x.npy", rng.standard_normal((1, 3, 4, 2)))
    np.save(folder / "w.npy", rng.standard_normal((3, 3, 2, 2)))
    np.save(folder / "bias.npy", rng.standard_normal(2))
    (folder / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8")
    (folder / "trunc.npy").write_bytes((folder / "x.npy").read_bytes()[:-9])
    (folder / "empty.npy").write_bytes(b"")
    buffer = io.BytesIO()
    np.save(buffer, np.array([None, 1], dtype=object), allow_pickle=True)
    (folder / "obj.npy").write_bytes(buffer.getvalue())
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    (folder / "huge.npy").write_bytes(header.getvalue())
    (folder / "out.npy").write_bytes(b"old output")
    (folder / "private.npy").write_bytes(b"private")
    (folder / "private.npy").chmod(0o600)
    (folder / "real.npy").write_bytes(b"behind a link")
    (folder / "link.npy").symlink_to("real.npy")
    (folder / "readonly.npy").write_bytes(b"read only")
    (folder / "readonly.npy").chmod(0o444)
    (folder / "sub").mkdir()


INPUTS = ("x.npy", "w.npy", "bias.npy", "bad.npy", "trunc.npy", "empty.npy", "obj.npy", "huge.npy")


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every entry's (mode, content digest), links not followed."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = (
            os.readlink(path)
            if path.is_symlink()
            else ""
            if path.is_dir()
            else hashlib.sha1(path.read_bytes()).hexdigest()
        )
        found[str(path.relative_to(folder))] = (info.st_mode, digest)
    return found


def check_files(folder: Path, before: dict[str, tuple[int, str]], code: int, case: str) -> None:
    after = snapshot(folder)
    temporary = [name for name in after if Path(name).name.startswith(".deconv")]
    assert not temporary, f"{case}: temporary files left: {temporary}"
    for name, (mode, digest) in before.items():
        assert name in after, f"{case}: {name} was lost"
        assert stat.S_IMODE(after[name][0]) == stat.S_IMODE(mode), f"{case}: {name} changed mode"
        assert stat.S_IFMT(after[name][0]) == stat.S_IFMT(mode), f"{case}: {name} changed type"
        if name in INPUTS or code != 0:
            assert after[name][1] == digest, f"{case}: {name} was clobbered"
    for name in after:
        if (
            name.endswith(".npy")
            and after[name][1] != before.get(name, (0, ""))[1]
            and not Path(folder / name).is_symlink()
        ):
            written = (folder / name).read_bytes()
            if written.startswith(b"<svg"):  # explain --svg: a whole picture
                assert written.rstrip().endswith(b"</svg>"), f"{case}: {name} is partial"
            else:
                np.load(folder / name)  # anything else written is a whole .npy file


def check_result(code: int, stderr: str, case: str) -> None:
    assert code in CODES, f"{case}: exit code {code}"
    assert "Traceback" not in stderr, f"{case}: {stderr}"
    if code != 0 and stderr:
        assert stderr.startswith("deconv: error: "), f"{case}: {stderr!r}"
        assert stderr.count("\n") == 1, f"{case}: {stderr!r}"


def run_in_process(args: list[str], stdin: bytes, folder: Path, limit: int = TIME_LIMIT) -> tuple[int, str]:
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(folder)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(limit)
    try:
        result = runner.invoke(cli.app, args, input=stdin, env={"COLUMNS": "100"})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"{args}: {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    return result.exit_code, result.stderr


def cases(count: int, seed: int) -> list[tuple[int, list[str], int]]:
    rng = random.Random(seed)
    return [(index, invocation(rng), rng.randrange(4)) for index in range(count)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    make_files(tmp_path)
    return tmp_path


def test_2000_hostile_invocations_in_process(folder):
    stdins = [(folder / "x.npy").read_bytes(), b"", b"\x93NUMPY garbage", random.Random(SEED).randbytes(64)]
    commands, codes = set(), {}
    for index, args, which in cases(IN_PROCESS, SEED):
        case = f"case {index} (FUZZ_SEED={SEED}): deconv {' '.join(map(repr, args))}"
        before = snapshot(folder)
        try:
            code, stderr = run_in_process(args, stdins[which], folder)
        except Hang:
            raise AssertionError(f"{case}: ran past 5 s") from None
        check_result(code, stderr, case)
        check_files(folder, before, code, case)
        commands.add(args[0] if args else "")
        codes[code] = codes.get(code, 0) + 1
    assert {"shape", "pad", "run", "explain", "overlap"} <= commands
    # the run reaches the work, not only the parsers: many succeed, and both kinds of failure occur
    assert codes.get(0, 0) > IN_PROCESS // 10, codes
    assert codes.get(1, 0) > IN_PROCESS // 20, codes
    assert codes.get(2, 0) > IN_PROCESS // 10, codes


def test_a_sample_as_real_processes(folder):
    stdins = [(folder / "x.npy").read_bytes(), b"", b"\x93NUMPY garbage", random.Random(SEED).randbytes(64)]
    chosen = cases(SUBPROCESS, SEED + 1)
    before = snapshot(folder)

    def run(item: tuple[int, list[str], int]) -> tuple[str, subprocess.CompletedProcess[bytes]]:
        index, args, which = item
        outputs = [a for a in args if a in ("-o", "--svg")]
        args = args if not outputs else ["--help"]  # processes in parallel must not race for one output
        args = [a.replace("\x00", "0") for a in args]  # argv cannot hold a NUL
        result = subprocess.run(
            [DECONV, *args],
            cwd=folder,
            input=stdins[which],
            capture_output=True,
            timeout=TIME_LIMIT * 3,
            check=False,
        )
        return f"case {index} (FUZZ_SEED={SEED + 1}): deconv {' '.join(map(repr, args))}", result

    with ThreadPoolExecutor(2) as pool:
        for case, result in pool.map(run, chosen):
            check_result(result.returncode, result.stderr.decode(errors="replace"), case)
    check_files(folder, before, 1, "the sample")
