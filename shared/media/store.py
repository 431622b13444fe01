"""Attachments on disk, content-addressed: `<root>/<sha256[:2]>/<sha256>`, written atomically, the same
bytes stored once whoever sent them; `purge` removes what is older than the retention period."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, content: bytes) -> Path:
        """Store `content` under its digest (checked); a second put of the same bytes only refreshes it."""
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ValueError("content does not match its sha256")
        target = self.path(sha256)
        if target.exists():
            os.utime(target)  # retention counts from the last ticket that brought it
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
        return target

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def purge(self, *, older_than_days: float, now: float | None = None) -> int:
        """Delete stored files not written or refreshed for `older_than_days`; return how many."""
        cutoff = (now if now is not None else time.time()) - older_than_days * 86400
        removed = 0
        for path in self.root.glob("??/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
