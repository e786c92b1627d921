"""Starting Ray for the ``ray`` engine: a quiet local Ray sized to this machine, or a cluster.

Ray is an optional extra (``pip install 'rag-news[scale]'``): it is imported here, on use,
and a missing Ray or an address that cannot be reached is one :class:`ConfigError` line.
Workers get ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` through the job's
``runtime_env``, so nothing reaches for a hub on any node; usage stats are off.

>>> check_address("head-node:6379"), check_address("ray://head:10001")
(('head-node', 6379), ('head', 10001))
>>> check_address("head-node")
Traceback (most recent call last):
...
rag.errors.ConfigError: a Ray address is HOST:PORT, ray://HOST:PORT or auto; got 'head-node'
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from typing import Any

from rag.errors import ConfigError

log = logging.getLogger("rag")

# What every worker must see whatever its node's environment: no hub, no usage report.
WORKER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",  # tokenizers' fork warning, once per worker
}
_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
CONNECT_TIMEOUT = 5.0  # seconds to reach a cluster's address before saying it cannot


def import_ray() -> Any:
    """The ``ray`` module with ``ray.data``, or a one-line error saying how to install it."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # read when Ray starts: never report usage
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(
            "the ray engine needs Ray, which is not installed: pip install 'rag-news[scale]'"
        ) from None
    _quiet_ray_data()
    return ray


def _quiet_ray_data() -> None:
    """Ray Data logs every run's plan to the console at INFO; keep its warnings only (its
    log file in the session folder keeps everything). Its own progress bars are off (ours
    count files and articles), which it would announce once per process."""
    from ray.util.debug import log_once

    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(max(handler.level, logging.WARNING))
    log_once("ray_data_progress_manager_disabled")  # claims that once-only announcement


def check_address(address: str) -> tuple[str, int]:
    """(host, port) of a cluster address, or a one-line error showing the accepted forms."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"a Ray address is HOST:PORT, ray://HOST:PORT or auto; got {address!r}")
    return host, int(port)


def start_ray(address: str | None = None) -> Callable[[], None]:
    """Join the cluster at ``address`` (or ``$RAY_ADDRESS``), else start a local Ray with
    this machine's CPUs; returns what stops it again. When Ray is already running in this
    process (a caller's own session), that one is used and the returned stop does nothing."""
    ray = import_ray()
    if ray.is_initialized():
        return lambda: None
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,  # workers report failures as data, not on our stderr
        "runtime_env": {"env_vars": dict(WORKER_ENV)},
    }
    if address:
        return _join(ray, address, quiet)
    # A local Ray listens on this machine's address, not loopback only (Ray resolves
    # 127.0.0.1 to it), so it keeps Ray's default token authentication: quietly.
    logging.getLogger(_AUTH_LOGGER).setLevel(logging.ERROR)
    temp = tempfile.mkdtemp(prefix="rag-ray-")  # Ray's sockets and logs, removed after
    try:
        ray.init(
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            _temp_dir=temp,
            **quiet,
        )
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    log.info("started a local Ray (logs in %s)", temp)

    def stop() -> None:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)

    return stop


def _join(ray: Any, address: str, quiet: dict[str, Any]) -> Callable[[], None]:
    if address != "auto":  # Ray would retry an unreachable address for a long while
        host, port = check_address(address)
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConfigError(f"cannot reach a Ray cluster at {address}: {reason}") from None
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot join the Ray cluster at {address}: {reason}") from None
    return ray.shutdown  # disconnects this driver; the cluster runs on
