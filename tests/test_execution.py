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


@pytest.mark.slow
def test_jobs_run_notebooks_at_once_sharing_the_cores_and_the_synthesis_last(tmp_path):
    """--jobs 2: both notebooks run, each kernel gets its share of the cores, in its own folder's working directory,
    and a notebook that reads the run's metrics (parameter metrics_dir) starts only after the others finished and
    runs alone, with every core."""
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    code = ("import os, time\nfrom mmcl_core import report\n"
            "report.record('threads', int(os.environ.get('OMP_NUM_THREADS', 0)))\n"
            "report.record('cwd_ok', os.getcwd() == {nb_dir!r})\n"
            "report.record('t0', time.time()); time.sleep(1.0); report.record('t1', time.time())")
    for name, extra in (("00_a", ""), ("01_b", ""), ("02_synth", '\nmetrics_dir: str = ""  # metrics')):
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
        params = nbformat.v4.new_code_cell('profile: str = "quick"  # profile' + extra)
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(code.format(nb_dir=str(nb_dir)))]
        nbformat.write(nb, str(nb_dir / f"{name}.ipynb"))
    summary = cli.reproduce(out=tmp_path / "out", notebook_dir=nb_dir, progress=False, jobs=2)
    assert list(summary["notebooks"]) == ["00_a", "01_b", "02_synth"] and summary["jobs"] == 2
    m = {name: record["metrics"] for name, record in summary["notebooks"].items()}
    for name, metrics in m.items():
        assert summary["notebooks"][name]["status"] == "ok", summary["notebooks"][name]["error"]
        share = 0 if name == "02_synth" else max(1, (os.cpu_count() or 1) // 2)  # alone, the synthesis gets all
        assert metrics["threads"] == share and metrics["cwd_ok"], (name, metrics)
    assert m["02_synth"]["t0"] >= max(m["00_a"]["t1"], m["01_b"]["t1"])


@pytest.mark.parametrize("jobs, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_jobs_raise_naming_the_argument(tmp_path, jobs, error):
    with pytest.raises(error, match="jobs"):
        cli.reproduce(out=tmp_path, only="00*", jobs=jobs)


@pytest.mark.slow
def test_a_panel_in_a_kernel_freezes_the_heap(tmp_path):
    nb_dir = _notebook(tmp_path, "import gc\nimport ipywidgets as w\nfrom mmcl_core import report\n"
                                 "from mmcl_core.widgets import _in_kernel, interactive_panel\n"
                                 "before = gc.get_freeze_count()\n"
                                 "interactive_panel(lambda a: {'a': a}, None, {'a': w.IntSlider()})\n"
                                 "report.record('in_kernel', _in_kernel())\n"
                                 "report.record('frozen', gc.get_freeze_count() > before)")
    summary = cli.reproduce(out=tmp_path / "out", notebook_dir=nb_dir, progress=False)
    assert summary["notebooks"]["00_tiny"]["metrics"] == {"in_kernel": True, "frozen": True}
