"""The ``ray`` executor on real Ray (no mocks): a one-line error where Ray is missing, and a run
on a two-node cluster (on this machine) that loses a node mid-run and still stores every cell
once. The executor contract and the misbehaving plugins run in tests/test_executors.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DATA, REPO_ROOT
from tests.test_executors import TINY, alive, bench, environ, needs_ray, ray_processes, stored

NAPPING = str(DATA / "plugins" / "napping.py")


def test_without_ray_installed_executor_ray_is_a_one_line_error(tmp_path):
    """Ray made unimportable (as if not installed): exit 4, one line, nothing stored."""
    code = ("import sys; sys.modules['ray'] = None; from bench.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    res = subprocess.run([sys.executable, "-c", code, "run", TINY, "--executor", "ray"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
                         env=environ(tmp_path / "s.sqlite", tmp_path / "cache"))
    assert res.returncode == 4, res.stderr
    assert res.stderr.strip().splitlines() == [
        'error: --executor ray: Ray is not installed; pip install "artbench[ray]"']
    assert not (tmp_path / "s.sqlite").exists()


@needs_ray
def test_an_address_where_no_cluster_listens_is_a_one_line_error_at_once(tmp_path):
    """Ray would retry such an address for minutes; bench refuses it before the run starts."""
    with socket.socket() as sock:  # a port nothing listens on (bound, never listening)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        res = bench("run", TINY, "--executor", "ray", "--address", f"127.0.0.1:{port}",
                    store=tmp_path / "s.sqlite", cache=tmp_path / "cache")
    assert res.returncode == 4, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: --executor ray: cannot join the Ray cluster at 127.0.0.1:{port}: "
        "Connection refused"]
    res = bench("run", TINY, "--executor", "ray", "--address", "head-node",
                store=tmp_path / "s.sqlite", cache=tmp_path / "cache")
    assert res.returncode == 4, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: --executor ray: address 'head-node': expected host:port (the head node's GCS "
        "address, as `ray start --head` prints it), auto or ray://host:port"]
    assert not (tmp_path / "s.sqlite").exists()


@pytest.fixture
def cluster(tmp_path, ray_machine) -> Iterator[tuple[Any, Any, Path]]:
    """A head and one worker node on this machine, one CPU each; NAP_MARKER reaches their
    workers (they inherit this process's environment). Every process of it is gone after."""
    from ray.cluster_utils import Cluster

    marker = tmp_path / "naps"
    old = os.environ.get("NAP_MARKER")
    os.environ["NAP_MARKER"] = str(marker)
    before = ray_processes()
    # Ray's head node puts its own SIGTERM / SIGINT handlers into this (pytest's) process:
    # put the previous ones back afterwards, other tests rely on the defaults
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        node = c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c, node, marker
    finally:
        c.shutdown()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        if old is None:
            del os.environ["NAP_MARKER"]
        else:
            os.environ["NAP_MARKER"] = old
        deadline = time.monotonic() + 30
        while ray_processes() - before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not ray_processes() - before, "Ray processes outlived the cluster"


@needs_ray
def test_a_lost_node_mid_run_has_its_cell_retried_and_every_cell_stored_once(cluster, tmp_path):
    """Two cells nap at once, one on each node; the worker node is removed while they do. The
    cell it ran is submitted again (on the head), and the run finishes with both cells ``ok``,
    each stored once, through --address (the driver joins the cluster, it does not start one)."""
    c, worker_node, marker = cluster
    store, cache = tmp_path / "s.sqlite", tmp_path / "cache"
    args = ["run", TINY, "--quiet", "-p", NAPPING, "--set", "evaluation.samples=8",
            "--set", "attacks=[{name: nap, params: {tag: 1, seconds: 12}}, "
            "{name: nap, params: {tag: 2, seconds: 12}}]",
            "--executor", "ray", "--address", c.address]
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO_ROOT,
                            env=environ(store, cache), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while (not marker.exists() or len(marker.read_text().splitlines()) < 2) \
                and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before both cells napped"
        starts = marker.read_text().splitlines()
        assert sorted(line.split()[1] for line in starts) == ["1", "2"], starts
        c.remove_node(worker_node, allow_graceful=False)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert c.head_node.remaining_processes_alive(), "bench shut down a cluster it only joined"
    got = stored(store)  # asserts no cell is stored twice
    assert sorted(cid.rsplit("/attack=", 1)[1] for cid in got) == [
        "nap[tag=1]", "nap[tag=2]"]
    assert all(status == "ok" for status, _, _ in got.values())
    # one cell started again after its node was lost, in a new worker process
    starts = [line.split() for line in marker.read_text().splitlines()]
    assert len(starts) == 3, starts
    tags = [tag for _, tag, _ in starts]
    again = max(set(tags), key=tags.count)
    assert tags.count(again) == 2
    pids = [pid for _, tag, pid in starts if tag == again]
    assert pids[0] != pids[1] and not alive(int(pids[0]))
