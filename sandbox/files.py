"""Creating key and certificate files under ``var/sandbox/`` safely: the portal and the CLI may both be first."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_new_file(path: Path, data: bytes, *, mode: int) -> bool:
    """Create ``path`` with ``mode`` atomically (never readable half-written, never wider than ``mode``).

    Returns False, leaving the existing file alone, when another process created it first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
