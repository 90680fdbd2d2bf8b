"""The analysis from Python: each `tokmeter` command as a function returning
its JSON document (docs/REPORT_JSON.md) as a dict, run in-process by the same
code as the command (no subprocess)."""

from __future__ import annotations

import errno
import json
import os
from typing import Any, Dict, List, Sequence, Tuple, Union

from tokmeter import _tokmeter
from tokmeter._runtime import flush_if_recording

PathLike = Union[str, "os.PathLike[str]"]


class TokmeterError(RuntimeError):
    """The tokmeter command failed (its exit code and stderr are attached)."""

    def __init__(self, code: int, stderr: str):
        super().__init__(f"tokmeter exited with {code}: {stderr.strip()}")
        self.code = code
        self.stderr = stderr


def run(args: Sequence[str]) -> Tuple[int, str, str]:
    """Runs the tokmeter command line in-process: (exit code, stdout, stderr).
    Does not flush the running runtime (the functions below do)."""
    code, out, err = _tokmeter.run_cli([os.fspath(a) if isinstance(a, os.PathLike) else str(a)
                                        for a in args])
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _check_input(path: PathLike) -> str:
    p = os.fspath(path)
    if p == "-":
        return p
    if not os.path.exists(p):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), p)
    if not os.access(p, os.R_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), p)
    return p


def _options(opts: Dict[str, Any]) -> List[str]:
    out: List[str] = []
    for key, value in opts.items():
        if key == "format":
            raise ValueError("these functions return the JSON document; for a table, Markdown "
                             "or HTML use tokmeter.run([command, ..., '--format', f])")
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                out += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        else:
            out += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return out


def _json_command(command: str, paths: Sequence[PathLike], opts: Dict[str, Any]) -> Dict[str, Any]:
    if not paths:
        raise ValueError(f"{command}(): give at least one input file or directory")
    inputs = [_check_input(p) for p in paths]
    flush_if_recording()  # what this process recorded so far is in the files
    code, out, err = run([command, *inputs, *_options(opts), "--format", "json"])
    if code != 0:
        raise TokmeterError(code, err)
    return json.loads(out)


def report(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter report PATHS`` as a dict: the daily report (totals, groups,
    5-minute windows, trend, findings). Options become flags:
    ``since="2026-11-20"``, ``path_tags="runs/{workflow}/{run}/*"``, ``top=10``."""
    return _json_command("report", paths, options)


def top(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter top PATHS`` as a dict (``by="session"``, ``window="24h"``)."""
    return _json_command("top", paths, options)


def detect(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter detect PATHS`` as a dict: findings (loops, fan-out, bloat, ...)."""
    return _json_command("detect", paths, options)


def quota(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter quota PATHS`` as a dict (``limit="300M"``)."""
    return _json_command("quota", paths, options)


def spikes(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter spikes PATHS`` as a dict: tokens per window (``window="5m"``)."""
    return _json_command("spikes", paths, options)


def daily(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter daily PATHS`` as a dict: per-day totals with per-model rows."""
    return _json_command("daily", paths, options)


def monthly(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter monthly PATHS`` as a dict: per-month totals with per-model rows."""
    return _json_command("monthly", paths, options)


def session(*paths: PathLike, **options: Any) -> Dict[str, Any]:
    """``tokmeter session PATHS`` as a dict: per-session totals (a session is a
    trace's `session` tag, by default the key given to tokmeter.trace)."""
    return _json_command("session", paths, options)


def convert(src: PathLike, dst: PathLike) -> None:
    """``tokmeter convert SRC DST``: JSONL <-> protobuf, lossless (the
    direction follows SRC's format). Writes DST; returns None (the command
    prints no document). FileNotFoundError for a missing SRC or DST directory,
    TokmeterError when the command fails."""
    src_path = _check_input(src)
    dst_path = os.fspath(dst)
    parent = os.path.dirname(os.path.abspath(dst_path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), parent)
    flush_if_recording()
    code, _, err = run(["convert", src_path, dst_path])
    if code != 0:
        raise TokmeterError(code, err)
