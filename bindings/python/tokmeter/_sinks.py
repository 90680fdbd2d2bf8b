"""Where tokmeter.start() writes: one class per sink, the C++ options as fields."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

# A record as the callback gets it: one line of the JSONL format (docs/FORMAT.md),
# parsed: {"type": "span" | "trace" | "turn_summary" | "drops", ...}.
Record = Dict[str, Any]


def _size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (bytes), got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _seconds(name: str, value: float) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {value}")
    return int(round(value * 1000))


def _path(value: PathLike) -> str:
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise ValueError(f"a sink path must be a non-empty str or os.PathLike, got {value!r}")
    return path


def _touch(path: str) -> None:
    # Opening here gives Python's own OSError subclass with errno and filename
    # (FileNotFoundError for a missing directory, PermissionError, IsADirectoryError).
    with open(path, "ab"):
        pass


@dataclass(frozen=True)
class JsonlSink:
    """Appends one JSON object per line to ``path`` (the tokmeter JSONL format).

    The file is created if missing (its directory must exist). With
    ``max_bytes`` it rotates: path -> path.1 -> ... -> path.{max_files}.
    ``max_pending_bytes`` is what is held for a file that cannot be written
    (disk full) before the oldest records are dropped and counted;
    ``preallocate_bytes`` reserves disk blocks ahead of the writes (0: off).
    """

    path: PathLike
    max_bytes: int = 0
    max_files: int = 5
    max_pending_bytes: int = 16 << 20
    preallocate_bytes: int = 4 << 20

    def _spec(self) -> Tuple[str, Dict[str, Any]]:
        path = _path(self.path)
        if isinstance(self.max_files, bool) or not isinstance(self.max_files, int):
            raise TypeError("max_files must be an int")
        spec = {"path": path, "max_bytes": _size("max_bytes", self.max_bytes),
                "max_files": self.max_files,
                "max_pending_bytes": _size("max_pending_bytes", self.max_pending_bytes),
                "preallocate_bytes": _size("preallocate_bytes", self.preallocate_bytes)}
        _touch(path)
        return "jsonl", spec


@dataclass(frozen=True)
class ProtobufSink(JsonlSink):
    """The same records as JSONL in length-delimited protobuf (about a quarter
    of the bytes); ``tokmeter convert`` turns one into the other. Same options
    as :class:`JsonlSink`; an existing file must be a tokmeter protobuf file.
    """

    def _spec(self) -> Tuple[str, Dict[str, Any]]:
        return "protobuf", super()._spec()[1]


@dataclass(frozen=True)
class OtlpSink:
    """Exports spans over OTLP/HTTP (protobuf) to an OpenTelemetry Collector,
    with the GenAI semantic-convention attributes, from a thread of its own.

    Spans are POSTed to ``{endpoint}/v1/traces``. Durations are in seconds.
    ``flush_timeout`` is how long :func:`tokmeter.flush` waits for the queue to
    be sent (0: it only wakes the sender). With ``from_env=True`` the standard
    variables override the fields when set: ``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
    ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_EXPORTER_OTLP_COMPRESSION``, ``OTEL_EXPORTER_OTLP_TIMEOUT``.
    Nothing is read from the environment otherwise.
    """

    endpoint: str = "http://localhost:4318"
    headers: Mapping[str, str] = field(default_factory=dict)
    service_name: str = "tokmeter"
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    gzip: bool = False
    timeout: float = 10.0
    max_batch_spans: int = 4096
    max_queue_spans: int = 65536
    max_retries: int = 5
    initial_backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 30.0
    close_timeout: float = 5.0
    flush_timeout: float = 0.0
    ca_file: str = ""
    insecure_skip_verify: bool = False
    from_env: bool = False

    def _spec(self) -> Tuple[str, Dict[str, Any]]:
        def pairs(name: str, m: Mapping[str, str]) -> List[Tuple[str, str]]:
            out = []
            for k, v in dict(m).items():
                if not isinstance(k, str) or not isinstance(v, str):
                    raise TypeError(f"{name} maps str to str, got {k!r}: {v!r}")
                out.append((k, v))
            return out

        return "otlp", {
            "endpoint": str(self.endpoint),
            "headers": pairs("headers", self.headers),
            "service_name": str(self.service_name),
            "resource_attributes": pairs("resource_attributes", self.resource_attributes),
            "gzip": bool(self.gzip),
            "timeout_ms": _seconds("timeout", self.timeout),
            "max_batch_spans": _size("max_batch_spans", self.max_batch_spans),
            "max_queue_spans": _size("max_queue_spans", self.max_queue_spans),
            "max_retries": _size("max_retries", self.max_retries),
            "initial_backoff_ms": _seconds("initial_backoff", self.initial_backoff),
            "max_backoff_ms": _seconds("max_backoff", self.max_backoff),
            "max_retry_after_ms": _seconds("max_retry_after", self.max_retry_after),
            "close_timeout_ms": _seconds("close_timeout", self.close_timeout),
            "flush_timeout_ms": _seconds("flush_timeout", self.flush_timeout),
            "ca_file": str(self.ca_file),
            "insecure_skip_verify": bool(self.insecure_skip_verify),
            "from_env": bool(self.from_env),
        }


@dataclass(frozen=True)
class MemorySink:
    """Keeps every span in memory; read them with :func:`tokmeter.memory_spans`."""

    def _spec(self) -> Tuple[str, Dict[str, Any]]:
        return "memory", {}


@dataclass(frozen=True)
class CallbackSink:
    """Calls ``fn(records)`` with each batch the flusher writes, as a list of
    dicts, each exactly one line of the JSONL file (``{"type": "span", ...}``,
    ``"trace"``, ``"turn_summary"``, ``"drops"``).

    ``fn`` runs on tokmeter's delivery thread (and in :func:`tokmeter.flush` /
    :func:`tokmeter.shutdown`, which return once it has seen every record
    closed before them), never on the flusher: the flusher does not wait for
    the GIL. Batches waiting for ``fn`` are held up to ``max_queue_bytes``
    of JSON; beyond that records are dropped and counted
    (``stats()["callback_records_dropped"]``) and reported as a sink error.
    An exception from ``fn`` is reported the same way and never stops recording.
    """

    fn: Callable[[List[Record]], Any]
    max_queue_bytes: int = 64 << 20

    def _spec(self) -> Tuple[str, Dict[str, Any]]:
        if not callable(self.fn):
            raise TypeError(f"CallbackSink needs a callable, got {type(self.fn).__name__}")
        return "callback", {"max_queue_bytes": _size("max_queue_bytes", self.max_queue_bytes)}


Sink = Union[JsonlSink, ProtobufSink, OtlpSink, MemorySink, CallbackSink]
