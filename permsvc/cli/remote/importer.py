"""``permsvc tuple import``: a tuple file sent in batches, with progress and a resumable checkpoint.

Each batch goes to ``POST /v1/admin/tuples/import`` as JSON lines; the server validates a batch
completely and stores it as one revision, ignoring tuples it already has. A batch is therefore
all-or-nothing and re-sending one is harmless, which makes the checkpoint simple: the number of
records (in file order) of the batches the server has confirmed. After an interruption (Ctrl-C,
a lost connection, a killed process) the import resumes with ``--resume-from N`` (printed on
interruption and shown by the progress line) or from ``--checkpoint-file``, which is rewritten
after every confirmed batch and removed when the import completes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from permsvc.cli.remote.client import EXIT_REJECTED, Remote, RemoteError, UsageError
from permsvc.cli.remote.tuples_io import TupleFile

__all__ = ("ImportInterrupted", "ImportResult", "Progress", "run_import")

IMPORT_PATH = "/v1/admin/tuples/import"
NDJSON = "application/x-ndjson"


class ImportInterrupted(Exception):
    def __init__(self, done: int) -> None:
        super().__init__(done)
        self.done = done


class ImportResult:
    def __init__(self) -> None:
        self.records = 0
        self.sent = 0
        self.stored = 0
        self.batches = 0
        self.revision: int | None = None
        self.model_id = ""
        self.seconds = 0.0
        self.resumed_from = 0

    def as_json(self) -> dict[str, Any]:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        return {
            "records": self.records,
            "sent": self.sent,
            "stored": self.stored,
            "batches": self.batches,
            "resumed_from": self.resumed_from,
            "revision": self.revision,
            "authorization_model_id": self.model_id,
            "seconds": round(self.seconds, 3),
            "tuples_per_second": round(rate, 1),
        }


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A progress line on stderr: a bar redrawn in place on a terminal, a line every few seconds
    otherwise. Shows done/total (the checkpoint), tuples/s since start and the time left."""

    def __init__(
        self,
        total: int | None,
        start: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        interval: float | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.total = total
        self.start = start
        self.began = time.monotonic()
        self.interval = interval if interval is not None else (0.2 if self.tty else 2.0)
        self._last = 0.0

    def rate(self, done: int) -> float:
        elapsed = time.monotonic() - self.began
        return (done - self.start) / elapsed if elapsed > 0 else 0.0

    def line(self, done: int) -> str:
        rate = self.rate(done)
        parts = []
        if self.total:
            share = min(1.0, done / self.total)
            if self.tty:
                width = 24
                filled = int(share * width)
                bar = "[" + "#" * filled + "." * (width - filled) + "] "
            else:
                bar = ""
            parts.append(f"{bar}{done:,}/{self.total:,} tuples ({share:.0%})")
        else:
            parts.append(f"{done:,} tuples")
        parts.append(f"{rate:,.0f} tuples/s")
        if self.total and rate > 0:
            parts.append(f"ETA {_duration((self.total - done) / rate)}")
        parts.append(f"checkpoint {done}")
        return "  ".join(parts)

    def update(self, done: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line(done))
        else:
            self.stream.write("import: " + self.line(done) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class _Checkpoint:
    """``--checkpoint-file``: ``{"file", "size", "format", "done"}`` written atomically."""

    def __init__(self, path: str | None, source: TupleFile) -> None:
        self.path = Path(path) if path else None
        self.source = source
        self.identity = {
            "file": os.path.abspath(source.path) if source.path != "-" else "-",
            "size": os.path.getsize(source.path) if source.path != "-" else None,
            "format": source.format,
        }

    def load(self) -> int | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            saved = json.loads(self.path.read_text())
            done = int(saved["done"])
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{self.path}: not a checkpoint of `permsvc tuple import`") from err
        for key, value in self.identity.items():
            if saved.get(key) != value:
                raise UsageError(
                    f"{self.path}: the checkpoint is of another input ({key} {saved.get(key)!r}, "
                    f"now {value!r}); remove it to start over"
                )
        return done

    def save(self, done: int) -> None:
        if self.path is None:
            return
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps({**self.identity, "done": done}) + "\n")
        os.replace(temp, self.path)

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _batches(
    records: Iterator[dict[str, Any]], skip: int, size: int
) -> Iterator[tuple[int, list[bytes]]]:
    """``(index of the batch's first record, encoded lines)``, records before ``skip`` dropped."""
    batch: list[bytes] = []
    first = skip
    index = 0
    for index, record in enumerate(records):
        if index < skip:
            continue
        batch.append(json.dumps(record, separators=(",", ":")).encode())
        if len(batch) >= size:
            yield first, batch
            first = index + 1
            batch = []
    if batch:
        yield first, batch


def run_import(
    remote: Remote,
    source: TupleFile,
    *,
    store_id: str,
    model_id: str = "",
    batch_size: int = 5000,
    resume_from: int | None = None,
    checkpoint_file: str | None = None,
    progress: bool = True,
) -> ImportResult:
    """Import ``source`` from its record ``resume_from`` (or the checkpoint file's) on."""
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    checkpoint = _Checkpoint(checkpoint_file, source)
    saved = checkpoint.load()
    if resume_from is None:
        resume_from = saved or 0
    if resume_from < 0:
        raise UsageError("--resume-from must be 0 or more")
    total = source.count()
    if total is not None and resume_from > total:
        raise UsageError(
            f"--resume-from {resume_from} is past the end of {source.path} ({total} records)"
        )
    result = ImportResult()
    result.resumed_from = resume_from
    bar = Progress(total, resume_from, enabled=progress)
    done = resume_from
    began = time.monotonic()
    try:
        bar.update(done, force=True)
        for first, lines in _batches(source.records(), resume_from, batch_size):
            body = b"\n".join(lines) + b"\n"
            try:
                answer = remote.request_retrying(
                    "POST",
                    IMPORT_PATH,
                    content=body,
                    content_type=NDJSON,
                    params={"store_id": store_id, "authorization_model_id": model_id},
                )
            except RemoteError as err:
                raise _with_records(err, first) from err
            done = first + len(lines)
            result.sent += len(lines)
            result.stored += int(answer.get("imported", 0))
            result.batches += 1
            result.revision = answer.get("revision", result.revision)
            result.model_id = answer.get("authorization_model_id", result.model_id)
            checkpoint.save(done)
            bar.update(done)
    except KeyboardInterrupt:
        bar.finish()
        raise ImportInterrupted(done) from None
    except RemoteError as err:
        bar.finish()
        err.checkpoint = done  # type: ignore[attr-defined]
        raise
    except UsageError as err:
        bar.finish()
        err.checkpoint = done  # type: ignore[attr-defined]
        raise
    bar.update(done, force=True)
    bar.finish()
    checkpoint.remove()
    result.records = done
    result.seconds = time.monotonic() - began
    return result


def _with_records(err: RemoteError, first: int) -> RemoteError:
    """A validation failure of a batch, its line numbers turned into the file's record numbers."""
    body = err.body
    if err.exit_code != EXIT_REJECTED or not isinstance(body, dict) or not body.get("errors"):
        return err
    shown = []
    for item in body["errors"][:10]:
        try:
            shown.append(f"record {first + int(item['line'])}: {item['error']}")
        except (KeyError, TypeError, ValueError):
            continue
    failed = body.get("failed", len(shown))
    text = f"{err.message}\n" + "\n".join(shown)
    if failed > len(shown):
        text += f"\n... {failed - len(shown)} more in this batch"
    return RemoteError(text, err.exit_code, status=err.status, body=body)
