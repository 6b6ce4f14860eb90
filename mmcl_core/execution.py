"""Headless notebook execution that cannot stall on a missed wake-up.

papermill drives notebooks through nbclient, which waits for a cell's reply with one long
``await socket.poll(timeout)`` on a ``zmq.asyncio`` socket. That poll can miss the wake-up for a message that
has already arrived (pyzmq issues #1558 and #2173, nbclient #312): the kernel has finished the cell and gone
idle, the reply sits in the socket, and the client only sees it when the poll's timeout expires — the whole cell
timeout. This module makes the client immune to that and makes any stall that remains loud:

* **Short polls.** Every wait on a kernel channel is cut into slices of at most :data:`POLL_SLICE` seconds, and
  after each slice the socket's ``EVENTS`` are read directly, so a missed wake-up costs a fraction of a second.
* **IPC transport** (POSIX): the kernel's sockets are Unix-domain sockets in a private ``0700`` folder rather than
  TCP ports, so nothing listens on the network and ipykernel's "running over TCP without encryption" warning does
  not apply. Windows has no IPC transport for ZeroMQ; there the kernel keeps TCP on 127.0.0.1.
* **Stall watchdog.** If the kernel has reported the cell finished (``status: idle`` on IOPub) but its reply has
  not arrived :data:`STALL_GRACE` seconds later, the cell fails with :class:`KernelReplyStall`; a cell that ran
  as long as its timeout fails even if the reply turns up at the last moment. A stall never passes as ``ok``.

:func:`execute` runs one notebook through papermill with this client; :mod:`mmcl_core.cli` uses it for every run.
It also runs a notebook's *student tail*: code cells given to ``student_tail`` run (with errors allowed) before
the rest of the notebook and are returned separately, so one kernel checks both course versions of a notebook
without executing the shared part twice.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import tempfile
import threading
import time
from queue import Empty

__all__ = ["POLL_SLICE", "STALL_GRACE", "KernelReplyStall", "SlicedChannel", "SlicedKernelClient",
           "HeadlessKernelManager", "execute"]

POLL_SLICE = 0.05
"""Longest single wait (seconds) on a kernel socket; a missed wake-up costs at most this."""
STALL_GRACE = 20.0
"""Seconds after the kernel reports a cell finished by which its reply must have arrived."""
_STUDENT_KEY = "mmcl_student_tail"


class KernelReplyStall(RuntimeError):
    """The kernel finished a cell but its reply never reached the client (or the cell used its whole timeout)."""


def _classes():
    """Build the jupyter_client / nbclient subclasses on first use (importing this module stays cheap)."""
    global SlicedChannel, SlicedKernelClient, HeadlessKernelManager, _Client, _Engine
    if _Engine is not None:
        return
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from traitlets import Type

    channel = _sliced_channel()

    class _SlicedKernelClient(AsyncKernelClient):
        shell_channel_class = Type(channel)
        iopub_channel_class = Type(channel)
        stdin_channel_class = Type(channel)
        control_channel_class = Type(channel)

    manager = _headless_kernel_manager(_SlicedKernelClient)
    client = _headless_client()
    SlicedChannel, SlicedKernelClient, HeadlessKernelManager = channel, _SlicedKernelClient, manager
    _Client, _Engine = client, _mmcl_engine(client, manager)


def _sliced_channel():
    import zmq
    from jupyter_client.channels import AsyncZMQSocketChannel

    class _SlicedChannel(AsyncZMQSocketChannel):
        """A kernel channel whose waits are short polls plus a direct look at the socket's events."""

        async def get_msg(self, timeout: float | None = None):
            deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
            while True:
                left = POLL_SLICE if deadline is None else min(POLL_SLICE, max(0.0, deadline - time.monotonic()))
                if await self.socket.poll(int(left * 1000)) or self.socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    return await self._recv()
                if deadline is not None and time.monotonic() >= deadline:
                    raise Empty

    return _SlicedChannel


def _headless_kernel_manager(client_class):
    from jupyter_client.manager import AsyncKernelManager

    class _HeadlessKernelManager(AsyncKernelManager):
        """A kernel on IPC sockets in a private folder (POSIX), talked to by :class:`SlicedKernelClient`."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.client_factory = client_class
            self._ipc_dir = None
            if os.name == "posix":
                self._ipc_dir = tempfile.mkdtemp(prefix="mmcl-k-")  # 0700; short path (Unix sockets: 108 bytes)
                self.transport = "ipc"
                self.ip = os.path.join(self._ipc_dir, "k")

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if self._ipc_dir and not restart:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

    return _HeadlessKernelManager


def _headless_client():
    from papermill.clientwrap import PapermillNotebookClient

    class _HeadlessClient(PapermillNotebookClient):
        """papermill's client with the stall watchdog, and the student tail run with errors allowed."""

        async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
            start = time.monotonic()
            inner = asyncio.ensure_future(super()._async_poll_for_reply(
                msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive))
            idle_since = None
            try:
                while not inner.done():
                    await asyncio.wait({inner}, timeout=POLL_SLICE)
                    if inner.done():
                        break
                    if task_poll_output_msg.done():  # IOPub saw the cell finish ...
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since > STALL_GRACE:  # ... but its reply is missing
                            task_poll_kernel_alive.cancel()
                            raise KernelReplyStall(
                                f"the kernel finished this cell but its reply did not arrive within "
                                f"{STALL_GRACE:g} s (a stalled client; see mmcl_core.execution)")
            finally:
                if not inner.done():
                    inner.cancel()
            reply = inner.result()
            if timeout and time.monotonic() - start >= timeout:
                raise KernelReplyStall(f"the cell's reply came only after its whole timeout ({timeout} s)")
            return reply

        def papermill_execute_cells(self):
            from nbclient.exceptions import CellExecutionError

            for index, cell in enumerate(self.nb.cells):
                try:
                    self.nb_man.cell_start(cell, index)
                    self.execute_cell(cell, index)
                except (CellExecutionError, KernelReplyStall) as ex:
                    if not isinstance(ex, CellExecutionError):
                        ex = CellExecutionError(traceback="", ename=type(ex).__name__, evalue=str(ex))
                        self.nb.cells[index].outputs.append(_error_output(ex.ename, ex.evalue))
                    self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=ex)
                    break
                finally:
                    self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)

    return _HeadlessClient


def _mmcl_engine(client_class, manager_class):
    from papermill.engines import NBClientEngine

    class _MMCLEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kwargs.pop("input_path", None)
            start = {k: kwargs.pop(k) for k in ("kernel_env", "kernel_cwd") if k in kwargs}
            launch = {}
            if start.get("kernel_env") is not None:
                launch["env"] = {**os.environ, **{k: str(v) for k, v in start["kernel_env"].items()}}
            if start.get("kernel_cwd") is not None:
                launch["cwd"] = str(start["kernel_cwd"])
            client_class(nb_man, kernel_name=kernel_name, log_output=log_output, stdout_file=stdout_file,
                            stderr_file=stderr_file, startup_timeout=start_timeout, timeout=execution_timeout,
                            kernel_manager_class=manager_class, **kwargs).execute(**launch)
            tail = [c for c in nb_man.nb.cells if c.metadata.get(_STUDENT_KEY)]
            if tail:  # out of the notebook before papermill looks for errors: they belong to the student version
                nb_man.nb.cells = [c for c in nb_man.nb.cells if not c.metadata.get(_STUDENT_KEY)]
                nb_man.nb.metadata[_STUDENT_KEY] = tail

    return _MMCLEngine


SlicedChannel = SlicedKernelClient = HeadlessKernelManager = _Client = _Engine = None


def _error_output(ename: str, evalue: str):
    import nbformat

    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


_REGISTER_LOCK = threading.Lock()


def register() -> None:
    """Register the ``mmcl-headless`` papermill engine (idempotent, thread-safe)."""
    from papermill.engines import papermill_engines

    with _REGISTER_LOCK:
        _classes()
        if "mmcl-headless" not in papermill_engines._engines:
            papermill_engines.register("mmcl-headless", _Engine)


def _with_student_tail(source: str, output_path, student_tail, tail_at) -> str:
    """A temporary copy of the notebook ``source`` with the student cells inserted before cell ``tail_at`` (errors
    allowed, marked so that :func:`execute` takes them out again); returns its path."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    at = len(nb.cells) if tail_at is None else tail_at
    if not 0 <= at <= len(nb.cells):
        raise ValueError(f"tail_at must be in [0, {len(nb.cells)}], got {tail_at}")
    tail = []
    for cell in student_tail:
        cell = copy.deepcopy(cell)
        cell.metadata[_STUDENT_KEY] = cell.get("id", True)
        if "id" in cell:
            cell.id = f"student-{cell.id}"  # unique beside the instructor's cell of the same id
        cell.metadata.setdefault("tags", []).append("raises-exception")  # errors allowed, judged by the caller
        tail.append(cell)
    nb.cells[at:at] = tail
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", prefix="mmcl-combined-",
                               dir=os.path.dirname(os.path.abspath(str(output_path))))
    os.close(fd)
    nbformat.write(nb, tmp)
    return tmp


def execute(input_path, output_path, *, parameters=None, kernel_name: str = "python3", cwd=None,
            cell_timeout: float | None = None, student_tail=None, tail_at: int | None = None, env=None):
    """Execute one notebook headlessly with papermill through the stall-proof client.

    Args:
        input_path, output_path: notebook to run and where to write the executed copy.
        parameters: papermill parameters (injected after the cell tagged ``parameters``).
        kernel_name: kernelspec name.
        cwd: working directory of the kernel (given to the kernel alone: this process's directory is not
            changed, so several notebooks can run at once from threads).
        env: extra environment variables for the kernel (NAME -> value, on top of this process's environment).
        cell_timeout: seconds one cell may run (None: no limit); a cell that reaches it fails.
        student_tail: optional list of cells (nbformat nodes) to run, errors allowed, just before cell
            ``tail_at`` of the input notebook (default: at the end); they are taken out of the executed notebook
            and returned, executed.
        tail_at: where the student tail runs (an index into the input notebook's cells).

    Returns:
        The executed student-tail cells (an empty list without ``student_tail``).

    Raises:
        papermill.PapermillExecutionError: a cell of the notebook itself raised, stalled or timed out.
    """
    import nbformat
    import papermill

    register()
    tmp = _with_student_tail(str(input_path), output_path, student_tail, tail_at) if student_tail else None
    source = tmp or str(input_path)
    try:
        nb = papermill.execute_notebook(source, str(output_path), parameters=parameters or {},
                                        kernel_name=kernel_name, progress_bar=False, log_output=False,
                                        execution_timeout=cell_timeout, engine_name="mmcl-headless",
                                        kernel_env=dict(env or {}), kernel_cwd=cwd)
    finally:
        if tmp:
            os.unlink(tmp)
    tail = [nbformat.from_dict(c) for c in nb.metadata.pop(_STUDENT_KEY, [])]
    if tail:
        nbformat.write(nb, str(output_path))
    for cell in tail:
        original = cell.metadata.pop(_STUDENT_KEY)
        cell.metadata["tags"].remove("raises-exception")
        if isinstance(original, str):
            cell.id = original
    return tail
