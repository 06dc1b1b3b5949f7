"""What `make run` shows, and what it keeps: a few lines of progress on the console,
everything (initdb, pg_ctl, migrations, the children's output) in a log file."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import BinaryIO

TAIL_LINES = 12


class Output:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        if log_path.exists():  # the previous run's log stays, once
            log_path.replace(log_path.with_name(log_path.name + ".1"))
        self._log: BinaryIO = log_path.open("ab", buffering=0)
        self._lock = threading.Lock()
        # Once stopping, the children's last lines go to the log only: the console gets
        # the one line that says what was stopped.
        self.quiet_children = False

    def say(self, text: str) -> None:
        """A line for the user (and for the log)."""
        data = (text + "\n").encode()
        with self._lock:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            self._log.write(data)

    def write_log(self, data: bytes) -> None:
        with self._lock:
            if not self._log.closed:  # a child's last words may come after we closed
                self._log.write(data)

    def relay(self, console_prefix: bytes, log_prefix: bytes, line: bytes) -> None:
        """A line of a child's output, to both."""
        with self._lock:
            if not self.quiet_children:
                sys.stdout.buffer.write(console_prefix + line)
                sys.stdout.buffer.flush()
            if not self._log.closed:
                self._log.write(log_prefix + line)

    def capture_logging(self) -> None:
        """Every log record of this process (and warnings) goes to the log file only."""
        handler = logging.StreamHandler(_LockedText(self))
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)

    def tail(self, lines: int = TAIL_LINES) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join("  " + line for line in text.splitlines()[-lines:])

    def close(self) -> None:
        logging.getLogger().handlers.clear()
        with self._lock:
            self._log.close()


class _LockedText:
    """A text stream onto the log file, sharing the lock of the children's lines."""

    def __init__(self, output: Output) -> None:
        self._output = output

    def write(self, text: str) -> int:
        self._output.write_log(text.encode())
        return len(text)

    def flush(self) -> None:
        pass
