"""Who holds a claim: worker identities, and telling a dead worker on this machine from a live one.

A worker id is `host/pid-namespace/pid/random`. When a claim's owner has our host and PID
namespace and its process no longer exists, it crashed: its claims can be taken over at once
instead of waiting for the lease to expire. Anything else (another machine, another container,
an unknown format) is only taken over when its lease expires.
"""

from __future__ import annotations

import os
import secrets
import socket
from functools import cache


@cache
def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def worker_id() -> str:
    host = socket.gethostname().replace("/", "_")[:60]
    return f"{host}/{_pid_namespace()}/{os.getpid()}/{secrets.token_hex(4)}"


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_dead(owner: str) -> bool:
    """True only when `owner` surely was a process of this machine that is gone."""
    parts = owner.split("/")
    if len(parts) != 4 or not parts[1] or not parts[2].isdigit():
        return False
    host, namespace, pid, _token = parts
    if host != socket.gethostname().replace("/", "_")[:60] or namespace != _pid_namespace():
        return False
    return not _pid_exists(int(pid))
