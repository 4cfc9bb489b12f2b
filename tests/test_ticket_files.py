"""Tickets on disk: atomic writes, failed writes, kills, file objects."""
import io
import os
import random
import resource
import signal
import sys
import time

import pytest
import torch

from tests.conftest import MODELS
from tests.test_ticket import searched
from torch_geometric_ugt import load_ticket, masked_weights, save_ticket


def masks_of(model):
    return [w.parametrization.mask.clone() for w in masked_weights(model)]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture
def two_tickets(graph):
    old, _ = searched("GCN", graph, seed=1)
    new, _ = searched("GCN", graph, seed=2)
    assert not same(masks_of(old), masks_of(new))
    return old, new


def loaded_masks(path):
    return masks_of(load_ticket(MODELS["GCN"](), path))


def test_file_objects_are_written_and_read_at_their_position(two_tickets):
    old, new = two_tickets
    buffer = io.BytesIO(b"header")
    buffer.seek(0, io.SEEK_END)
    first = save_ticket(old, buffer)["bytes"]
    second = save_ticket(new, buffer)["bytes"]
    assert buffer.tell() == len(b"header") + first + second
    buffer.seek(len(b"header"))
    assert same(loaded_masks(buffer), masks_of(old))
    buffer.seek(len(b"header") + first)  # as torch.load, from a position
    assert same(loaded_masks(buffer), masks_of(new))
    # a reused buffer gives what was written last at that position
    reused = io.BytesIO()
    save_ticket(old, reused)
    reused.seek(0)
    save_ticket(new, reused)
    reused.seek(0)
    assert same(loaded_masks(reused), masks_of(new))


def test_paths_are_replaced_atomically(tmp_path, two_tickets):
    old, new = two_tickets
    path = tmp_path / "model.ticket"
    save_ticket(old, path)
    inode = os.stat(path).st_ino
    save_ticket(new, str(path))
    assert os.stat(path).st_ino != inode  # a new file renamed over it
    assert same(loaded_masks(path), masks_of(new))
    assert os.listdir(tmp_path) == ["model.ticket"]  # no temporary left


def test_a_directory_path_is_refused_clearly(tmp_path, two_tickets):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_ticket(two_tickets[0], tmp_path)


def test_a_missing_folder_is_refused_clearly(tmp_path, two_tickets):
    with pytest.raises(OSError, match="must exist and be writable"):
        save_ticket(two_tickets[0], tmp_path / "no" / "such" / "t.ticket")


def test_a_failed_write_leaves_the_old_ticket(tmp_path, two_tickets,
                                              monkeypatch):
    old, new = two_tickets
    path = tmp_path / "model.ticket"
    save_ticket(old, path)
    real_save = torch.save

    def full_disk(obj, file, *args, **kwargs):
        real_save(obj, io.BytesIO())
        file.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="file there, if any, is unchanged"):
        save_ticket(new, path)
    monkeypatch.undo()
    assert same(loaded_masks(path), masks_of(old))
    assert os.listdir(tmp_path) == ["model.ticket"]


def test_a_file_size_limit_leaves_the_old_ticket(tmp_path, two_tickets):
    old, new = two_tickets
    path = tmp_path / "model.ticket"
    save_ticket(old, path, compress=False)
    size = os.path.getsize(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, hard))
    try:
        with pytest.raises(OSError, match="unchanged"):
            save_ticket(new, path, compress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert same(loaded_masks(path), masks_of(old))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_at_any_moment_leaves_the_old_or_the_new_ticket(
        tmp_path, two_tickets):
    old, new = two_tickets
    want = {"old": masks_of(old), "new": masks_of(new)}
    path = tmp_path / "model.ticket"
    save_ticket(old, path)
    rng = random.Random(0)
    seen = set()
    for _ in range(20):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: rewrites the ticket until killed
            try:
                torch.set_num_threads(1)
                os.write(ready_w, b"1")
                while True:
                    save_ticket(new, path)
                    save_ticket(old, path)
            finally:
                os._exit(1)
        os.read(ready_r, 1)
        os.close(ready_r)
        os.close(ready_w)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        got = loaded_masks(path)
        which = [k for k, v in want.items() if same(got, v)]
        assert len(which) == 1, "a torn or foreign ticket after a kill"
        seen.add(which[0])
    assert sys.platform != "linux" or seen  # the loop really ran
