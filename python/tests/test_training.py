"""Training through the binding: it learns, it is the library's trainer step for step, it
stops cleanly on Ctrl-C, and LeNet reaches exactly the CLI's accuracy for the same settings."""

import gc
import gzip
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from conftest import TINY, data_dir, spikebp as sb

OPTS = dict(timesteps=10, batch=16, lr=0.02, seed=3, threads=2)


def test_train_learns_and_calls_back(tiny_data):
    net, ds = sb.Net(TINY, seed=1), sb.Dataset.from_arrays(*tiny_data)
    before = net.evaluate(ds, timesteps=10)
    w = net.weights(0)  # a view: training updates it in place
    w0 = w.copy()
    batches, epochs = [], []
    res = sb.train(net, ds, epochs=6, test=ds, on_batch=batches.append, on_epoch=epochs.append,
                   **OPTS)
    assert len(batches) == 6 * 6 and [b.batch_index for b in batches[:6]] == list(range(6))
    assert [r.epoch for r in res] == list(range(6)) and epochs == res
    assert res[0].loss == pytest.approx(sum(b.loss for b in batches[:6]) / 96)
    assert not np.array_equal(w, w0)
    np.testing.assert_array_equal(w, net.weights(0, copy=True))
    after = net.evaluate(ds, timesteps=10)
    assert res[-1].test_accuracy == after.accuracy and res[-1].test_correct == after.correct
    # four bright quadrants are easy: chance is 25 %
    assert after.accuracy >= 0.9 > before.accuracy
    assert net.get_meta("epochs") == "6" and net.get_meta("timesteps") == "10"


def test_train_is_the_trainer_step_for_step(tiny_data):
    """train() adds nothing to the arithmetic: the same weights as sbp_trainer_step driven by
    hand; a callback returning False stops after that batch."""
    a, b = sb.Net(TINY, seed=1), sb.Net(TINY, seed=1)
    ds = sb.Dataset.from_arrays(*tiny_data)
    sb.train(a, ds, epochs=2, on_batch=lambda r: not (r.epoch == 1 and r.batch_index == 2),
             **OPTS)
    with sb.Trainer(b, ds, epochs=2, **OPTS) as tr:
        for _ in range(6 + 3):
            tr.step()
        assert tr.position == (1, 3)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])


def test_ctrl_c_stops_after_the_current_batch(tiny_data):
    """SIGINT while a batch runs in C: the batch completes, KeyboardInterrupt follows, the
    trainer is freed, and the weights are exactly those after a whole number of batches."""
    x = np.repeat(tiny_data[0], 4, axis=0)  # 384 images: batches long enough to hit
    y = np.repeat(tiny_data[1], 4)
    ds = sb.Dataset.from_arrays(x, y)
    opts = dict(OPTS, timesteps=60, batch=64)
    net = sb.Net(TINY, seed=1)
    started = threading.Event()

    def interrupt():
        started.wait(30)
        time.sleep(0.01)  # into the next batch's C call
        os.kill(os.getpid(), signal.SIGINT)

    seen = []

    def on_batch(r):
        seen.append(r)
        if len(seen) == 2:
            started.set()

    t = threading.Thread(target=interrupt)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        sb.train(net, ds, epochs=3, on_batch=on_batch, **opts)
    t.join()
    gc.collect()
    assert all(o._ptr is None for o in gc.get_objects() if isinstance(o, sb.Trainer))
    # which batch the signal fell in depends on timing; a partial batch is never left behind
    ref = sb.Net(TINY, seed=1)
    matches = []
    with sb.Trainer(ref, ds, epochs=3, **opts) as tr:
        # up to the batch after the last one reported: on a busy machine (or with fast batches)
        # the signal can land several batches after the second
        for k in range(1, min(len(seen) + 1, 3 * seen[0].batches_per_epoch) + 1):
            tr.step()
            if all(np.array_equal(v, ref.state_dict()[n]) for n, v in net.state_dict().items()):
                matches.append(k)
    assert len(seen) >= 2 and matches and matches[0] in (len(seen), len(seen) + 1)


def _idx(name):
    """An MNIST file of the cache folder, raw or gzip-compressed (as the CLI accepts)."""
    p = os.path.join(data_dir(), "mnist", name)
    return p if os.path.exists(p) else p + ".gz"


def _mnist(split, limit):
    """MNIST through sbp_dataset_open (the CLI's names) when the library has it, else the
    IDX files of the same cache folder (before H1's resolver is merged)."""
    try:
        return sb.Dataset.open("mnist", split, limit=limit)
    except sb.SpikebpError as e:
        if e.status != sb.Status.ERR_UNSUPPORTED:
            raise
    stem = "train" if split == "train" else "t10k"
    full = sb.Dataset.load_idx(_idx(stem + "-images-idx3-ubyte"),
                               _idx(stem + "-labels-idx1-ubyte"))
    return full[:limit]


def test_open_by_name_reads_the_clis_files():
    """Dataset.open("mnist", split, limit) is the IDX files of the cache folder, cut to the
    limit (needs sbp_dataset_open, the library's data-set resolver)."""
    if not os.path.isdir(os.path.join(data_dir(), "mnist")):
        pytest.skip("MNIST is not in %s (make data)" % data_dir())
    try:
        ds = sb.Dataset.open("mnist", "test", limit=300)
    except sb.SpikebpError as e:
        if e.status == sb.Status.ERR_UNSUPPORTED:
            pytest.skip(e.message)
        raise
    def read(name, offset):  # the IDX header is 16 (images) or 8 (labels) bytes
        p = _idx(name)
        with (gzip.open if p.endswith(".gz") else open)(p, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    pixels = read("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28)
    labels = read("t10k-labels-idx1-ubyte", 8)
    assert len(ds) == 300 and ds.shape == (1, 28, 28) and ds.classes == 10
    np.testing.assert_array_equal(ds.images[:, 0], pixels[:300])
    np.testing.assert_array_equal(ds.labels, labels[:300])
    with pytest.raises(sb.SpikebpError) as e:
        sb.Dataset.open("no-such-set", "train")
    assert "no-such-set" in e.value.message
    assert "mnist" in sb.Dataset.names_help()


def test_tutorial_lenet_reaches_the_clis_accuracy(cli, tmp_path):
    """docs/python.md's LeNet on a short run (640 MNIST images, T = 20, one epoch) against
    `spikebp train` with the same seed and settings: the same test accuracy, and the same
    weights bit for bit."""
    if not os.path.isdir(os.path.join(data_dir(), "mnist")):
        pytest.skip("MNIST is not in %s (make data)" % data_dir())
    settings = ["--net", "lenet", "--data", "mnist", "--train-limit", "640", "--test-limit",
                "1000", "-T", "20", "--epochs", "1", "--batch", "64", "--seed", "1",
                "--threads", "2"]
    out = subprocess.run([cli, "train", *settings, "--quiet", "--json",
                          "--save", str(tmp_path / "cli.sbp")],
                         capture_output=True, text=True, check=True)
    ref = json.loads(out.stdout.strip().splitlines()[-1])

    # the tutorial, with the same settings
    net = sb.Net("lenet", seed=1)
    train = _mnist("train", 640)
    test = _mnist("test", 1000)
    epochs = sb.train(net, train, epochs=1, timesteps=20, batch=64, seed=1, threads=2,
                      test=test)

    assert epochs[-1].test_correct == ref["test_correct"] and ref["test_images"] == 1000
    assert epochs[-1].test_accuracy == pytest.approx(ref["test_accuracy"], abs=1e-6)
    assert epochs[-1].accuracy == pytest.approx(ref["train_accuracy"], abs=1e-6)
    cli_net = sb.Net.load(tmp_path / "cli.sbp")
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, cli_net.state_dict()[k])
    # and the CLI evaluates the Python-trained model to the same accuracy
    assert net.get_meta("timesteps") == "20"
    assert net.get_meta("data") in ("mnist", None)  # None: opened without the resolver
    net.save(tmp_path / "py.sbp")
    out = subprocess.run([cli, "eval", "--model", str(tmp_path / "py.sbp"), "--data", "mnist",
                          "--limit", "1000", "-T", "20", "--threads", "2", "--quiet", "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["correct"] == ref["test_correct"]
