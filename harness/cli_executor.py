"""``--executor local|dask`` and ``--scheduler`` of ``sweep`` and ``tune`` (thin: the executors are
``harness.sweep``'s and ``harness.dask_executor``'s).

    local   (the default) each sweep's own pool of --jobs worker processes (``executor_for``)
    dask    one Dask executor for the whole command: a LocalCluster of --jobs worker processes it
            starts and closes, or with --scheduler tcp://HOST:PORT the cluster of that scheduler
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from harness.dask_executor import DaskExecutor

EXECUTORS = ["local", "dask"]
SCHEDULER_ADDRESS = re.compile(r"tcp://[^\s/:]+:\d{1,5}")


def scheduler_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A scheduler's address as ``dask scheduler`` prints it: tcp://HOST:PORT."""
    if value is not None and not SCHEDULER_ADDRESS.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a scheduler's address: give it as tcp://HOST:PORT, "
                                 f"as `dask scheduler` prints it")
    return value


def executor_options(command: Any) -> Any:
    options = [
        click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
                     help="local: --jobs worker processes on this machine; dask: Dask distributed (pip install "
                          "'onyx-bench[dask]'), a LocalCluster of --jobs worker processes, or --scheduler's cluster."),
        click.option("--scheduler", metavar="tcp://HOST:PORT", callback=scheduler_address,
                     help="With --executor dask: a running Dask scheduler (`dask scheduler`), whose workers "
                          "run the cases, a case per worker thread."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def shared_executor(executor: str, scheduler: str | None, jobs: int) -> Iterator[DaskExecutor | None]:
    """The executor every sweep of this command shares: None for local (each sweep makes its own
    pool), else the Dask one, open until the command ends (closed on an error or interruption too,
    its LocalCluster's workers with it). A flag that would be ignored is refused."""
    from mock_onyx.errors import ConfigError

    if executor == "local":
        if scheduler is not None:
            raise ConfigError("--scheduler", "is for --executor dask (the local executor uses no scheduler)",
                              "add --executor dask, or drop --scheduler")
        yield None
        return
    ctx = click.get_current_context()
    if scheduler is not None and ctx.get_parameter_source("jobs") is ParameterSource.COMMANDLINE:
        raise ConfigError("--jobs", f"has no effect with --scheduler: the workers of {scheduler} run the cases, "
                          f"one per worker thread", "drop --jobs (start as many workers as you want cases at once)")
    from harness.sweep import dask_executor

    with dask_executor(jobs, scheduler) as shared:
        yield shared


def refuse_on_target(executor: str, scheduler: str | None) -> None:
    """``sweep --target`` runs its cases one at a time, here: no executor of another kind."""
    from mock_onyx.errors import ConfigError

    if executor != "local" or scheduler is not None:
        raise ConfigError("--executor" if executor != "local" else "--scheduler",
                          "cases against a target run one at a time, in this process (its credentials never "
                          "leave it, and its caps hold)", "drop --executor dask and --scheduler")
