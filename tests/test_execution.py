"""The headless client: short polls survive a missed wake-up, a missing reply fails fast, IPC kernels."""

import asyncio
import os
import time
from queue import Empty

import nbformat
import pytest
import zmq

from mmcl_core import cli, execution


class _MissedWakeupSocket:
    """A socket whose poll never reports the waiting message (the zmq.asyncio bug), though its EVENTS do."""

    def __init__(self, ready: bool):
        self.ready, self.polls = ready, 0

    async def poll(self, timeout_ms=None):
        self.polls += 1
        await asyncio.sleep((timeout_ms or 0) / 1000)
        return 0

    def getsockopt(self, option):
        assert option == zmq.EVENTS
        return zmq.POLLIN if self.ready else 0


def _channel(ready: bool):
    execution._classes()
    channel = object.__new__(execution.SlicedChannel)
    channel.socket = _MissedWakeupSocket(ready)

    async def recv():
        return {"msg_type": "execute_reply"}

    channel._recv = recv
    return channel


def test_a_missed_wakeup_costs_one_slice_not_the_timeout():
    channel = _channel(ready=True)
    start = time.perf_counter()
    assert asyncio.run(channel.get_msg(timeout=600)) == {"msg_type": "execute_reply"}
    assert time.perf_counter() - start < 2 * execution.POLL_SLICE + 0.2
    start = time.perf_counter()
    assert asyncio.run(channel.get_msg(timeout=None))["msg_type"] == "execute_reply"  # no timeout: still found
    assert time.perf_counter() - start < 2 * execution.POLL_SLICE + 0.2


def test_an_empty_channel_still_honours_its_timeout():
    channel = _channel(ready=False)
    start = time.perf_counter()
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.5))
    assert 0.45 < time.perf_counter() - start < 1.5
    assert channel.socket.polls >= 3  # cut into short slices


def _notebook(tmp_path, code: str):
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    params = nbformat.v4.new_code_cell('profile: str = "quick"  # profile')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, str(nb_dir / "00_tiny.ipynb"))
    return nb_dir


@pytest.mark.slow
def test_a_reply_that_never_arrives_fails_the_notebook_fast(tmp_path, monkeypatch):
    """The kernel finishes the cell (IOPub idle) but the client never sees execute_reply: the notebook fails within
    seconds with a clear message instead of waiting for the cell timeout and passing."""
    execution._classes()
    monkeypatch.setattr(execution, "STALL_GRACE", 1.0)
    original = execution.SlicedChannel.get_msg

    async def drop_replies(self, timeout=None):
        while True:
            msg = await original(self, timeout)
            if msg.get("msg_type") != "execute_reply":
                return msg

    monkeypatch.setattr(execution.SlicedChannel, "get_msg", drop_replies)
    nb_dir = _notebook(tmp_path, "x = 1")
    start = time.perf_counter()
    summary = cli.reproduce(out=tmp_path / "out", notebook_dir=nb_dir, progress=False, cell_timeout=300)
    record = summary["notebooks"]["00_tiny"]
    assert record["status"] == "failed", record
    assert "KernelReplyStall" in record["error"] and "did not arrive" in record["error"], record["error"]
    assert time.perf_counter() - start < 60


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="IPC transport is POSIX only")
def test_kernels_run_over_ipc_without_the_tcp_warning(tmp_path, capfd):
    nb_dir = _notebook(tmp_path, "from ipykernel.kernelapp import IPKernelApp\n"
                                 "from mmcl_core import report\n"
                                 "report.record('ipc', IPKernelApp.instance().transport == 'ipc')")
    summary = cli.reproduce(out=tmp_path / "out", notebook_dir=nb_dir, progress=False)
    assert summary["notebooks"]["00_tiny"]["metrics"] == {"ipc": True}
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err
