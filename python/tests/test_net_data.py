"""Networks, weights and data sets through the binding: shapes against hand-computed values,
numpy round trips through the library's files, borrowing without copies, errors."""

import numpy as np
import pytest

from conftest import TINY, spikebp as sb


def test_lenet_structure_matches_the_paper():
    net = sb.Net("lenet")
    # §5: 20C5 (20·1·25) + 50C5 (50·20·25) + 200FC (200·50·7·7) + 10 (10·200)
    assert net.param_count == 20 * 25 + 50 * 20 * 25 + 200 * 2450 + 10 * 200 == 517500
    assert net.notation == "28x28x1-20C5-P2-50C5-P2-200FC-10"
    assert [L.shape for L in net.layers] == [(20, 28, 28), (20, 14, 14), (50, 14, 14),
                                             (50, 7, 7), (200, 1, 1), (10, 1, 1)]
    assert [L.weights_shape for L in net.layers] == [(20, 1, 5, 5), None, (50, 20, 5, 5), None,
                                                     (200, 2450), (10, 200)]
    assert sum(int(np.prod(w.shape)) for w in net.state_dict().values()) == net.param_count


def test_net_from_notation_description_and_file(tmp_path):
    desc = """[input]
shape = 12x12x1
[conv]
name = c1
filters = 8
kernel = 3
[pool]
[dense]
units = 20
[output]
classes = 4
"""
    a, b = sb.Net(TINY, seed=3), sb.Net(desc, seed=3)
    f = tmp_path / "tiny.cfg"
    f.write_text(desc)
    c = sb.Net(str(f), seed=3)
    assert a.notation == b.notation == c.notation == TINY
    for name, w in a.state_dict().items():  # same spec and seed: same initial weights
        np.testing.assert_array_equal(w, b.state_dict()[name])
        np.testing.assert_array_equal(w, c.state_dict()[name])
    assert not np.array_equal(a.weights(0), sb.Net(TINY, seed=4).weights(0))


def test_errors_become_exceptions_with_the_library_message(tmp_path, tiny_data):
    with pytest.raises(sb.SpikebpError) as e:
        sb.Net("lenot")
    assert e.value.status == sb.Status.ERR_INVALID_ARG and "lenot" in e.value.message
    with pytest.raises(sb.SpikebpError) as e:
        sb.Net("28x28x1-20Q5-10")
    assert "20Q5" in e.value.message
    missing = tmp_path / "none.sbp"
    with pytest.raises(sb.SpikebpError) as e:
        sb.Net.load(missing)
    assert e.value.status == sb.Status.ERR_IO and str(missing) in e.value.message
    bad = tmp_path / "bad.sbp"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(sb.SpikebpError) as e:
        sb.Net.load(bad)
    assert e.value.status == sb.Status.ERR_FORMAT
    x, y = tiny_data
    with pytest.raises(sb.SpikebpError) as e:  # 12×12 data into LeNet's 28×28 input
        sb.Net("lenet").evaluate(sb.Dataset.from_arrays(x, y), timesteps=5)
    assert e.value.status == sb.Status.ERR_SHAPE and "28" in e.value.message
    with pytest.raises(sb.SpikebpError) as e:  # spike value 2 is checked by the library
        sb.Dataset.from_arrays(np.full((2, 3, 1, 4, 4), 2, np.int8), [0, 1])
    assert e.value.status == sb.Status.ERR_INVALID_ARG and "spike value 2" in e.value.message
    with pytest.raises(ValueError):  # uint8 255 must not become int8 −1
        sb.Dataset.from_arrays(np.full((2, 3, 1, 4, 4), 255, np.uint8), [0, 1])
    with pytest.raises(sb.SpikebpError) as e:  # a path names the missing file
        sb.Net(str(tmp_path / "nets" / "none.cfg"))
    assert e.value.status == sb.Status.ERR_IO and "none.cfg" in e.value.message
    with pytest.raises(sb.SpikebpError):
        sb.Trainer(sb.Net(TINY), sb.Dataset.from_arrays(x, y), batch=0)
    with pytest.raises(TypeError):
        sb.Trainer(sb.Net(TINY), sb.Dataset.from_arrays(x, y), batchsize=4)


def test_weight_views_write_through_and_survive_the_net():
    net = sb.Net(TINY)
    w = net.weights(2)
    assert w.shape == (20, 288) and w.dtype == np.float32 and w.flags.writeable
    w[3, 5] = 42.0
    assert net.weights(2)[3, 5] == 42.0  # a view: the network sees the write
    c = net.weights(2, copy=True)
    c[0, 0] = -1.0
    assert net.weights(2)[0, 0] != -1.0  # a copy does not
    assert net.weights(1) is None  # pooling has no weights
    del net  # the view keeps the network alive
    assert w[3, 5] == 42.0


def test_save_load_and_npz_round_trips(tmp_path):
    net = sb.Net(TINY, seed=5)
    rng = np.random.default_rng(1)
    mine = {k: rng.standard_normal(v.shape).astype(np.float32)
            for k, v in net.state_dict().items()}
    net.load_state_dict(mine)
    net.set_meta("note", "from python")
    net.save(tmp_path / "m.sbp")
    back = sb.Net.load(tmp_path / "m.sbp")
    assert back.get_meta("note") == "from python" and back.notation == TINY
    for k, v in mine.items():
        np.testing.assert_array_equal(back.state_dict()[k], v)
    # export writes numpy's own format: numpy reads exactly these arrays
    net.export_npz(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as z:
        assert sorted(z.files) == sorted(mine)
        for k in mine:
            np.testing.assert_array_equal(z[k], mine[k])
    # and import reads what numpy writes (float64 too)
    other = sb.Net(TINY, seed=9)
    np.savez(tmp_path / "np.npz", **{k: v.astype(np.float64) for k, v in mine.items()})
    other.import_npz(tmp_path / "np.npz")
    for k in mine:
        np.testing.assert_array_equal(other.state_dict()[k], mine[k])
    with pytest.raises(ValueError):
        other.load_state_dict({k: v[:1] for k, v in mine.items()})


def test_dataset_from_arrays_borrows_or_copies(tiny_data):
    x, y = tiny_data
    ds = sb.Dataset.from_arrays(x, y)
    assert len(ds) == 96 and ds.shape == (1, 12, 12) and ds.classes == 4 and ds.timesteps == 0
    img = ds.images
    # borrowed: the library reads the caller's array itself
    assert img.__array_interface__["data"][0] == x.__array_interface__["data"][0]
    assert not img.flags.writeable
    np.testing.assert_array_equal(img[:, 0], x)
    np.testing.assert_array_equal(ds.labels, y)
    copied = sb.Dataset.from_arrays(x, y, copy=True)
    assert copied.images.__array_interface__["data"][0] != x.__array_interface__["data"][0]
    np.testing.assert_array_equal(copied.images[:, 0], x)
    # a non-contiguous array is converted once; a slice is a view into its parent
    odd = sb.Dataset.from_arrays(x[:, ::-1], y)
    np.testing.assert_array_equal(odd.images[:, 0], x[:, ::-1])
    part = ds[10:20]
    assert len(part) == 10
    assert part.images.__array_interface__["data"][0] == x[10:].__array_interface__["data"][0]
    np.testing.assert_array_equal(part.labels, y[10:20])
    del ds, x  # the slice keeps parent and array alive
    assert part.images[0, 0].sum() == tiny_data[0][10].sum()


def test_spike_trains_from_arrays_and_from_npz(tmp_path):
    rng = np.random.default_rng(2)
    s = rng.integers(-1, 2, (6, 5, 2, 3, 3)).astype(np.int8)
    y = np.array([0, 1, 2, 0, 1, 2])
    ds = sb.Dataset.from_arrays(s, y)
    assert ds.timesteps == 5 and ds.shape == (2, 3, 3) and ds.images is None
    np.testing.assert_array_equal(ds.spikes, s)
    np.savez(tmp_path / "s.npz", x=s, y=y)
    z = sb.Dataset.load_npz(tmp_path / "s.npz")
    np.testing.assert_array_equal(z.spikes, s)
    np.testing.assert_array_equal(z.labels, y)


def test_predict_matches_an_independent_output_layer():
    """An output-only network over given spike trains: SPEC §1 says M[t] = λ(M[t−1] + W·y[t]),
    o = M[T−1]/T; computed here in float64 from the weights read back through the view."""
    rng = np.random.default_rng(3)
    T, n = 7, 5
    s = rng.integers(-1, 2, (n, T, 1, 2, 2)).astype(np.int8)
    net = sb.Net("2x2x1-3")
    W = net.weights(0)
    W[...] = rng.standard_normal(W.shape)
    o = net.predict(sb.Dataset.from_arrays(s, np.arange(n) % 3))
    lam = float(np.float32(0.99))
    for i in range(n):
        M = np.zeros(3)
        for t in range(T):
            M = lam * (M + W.astype(np.float64) @ s[i, t].reshape(-1))
        np.testing.assert_allclose(o[i], M / T, rtol=1e-5, atol=1e-6)


def test_predict_agrees_with_evaluate(tiny_data):
    x, y = tiny_data
    net, ds = sb.Net(TINY, seed=2), sb.Dataset.from_arrays(*tiny_data)
    o = net.predict(ds, timesteps=12, threads=2)
    r = net.evaluate(ds, timesteps=12, threads=2)
    onehot = np.eye(4)[y]
    # argmax with ties to the first, as the library counts a hit
    assert r.correct == int((o.argmax(1) == y).sum()) and r.images == 96
    assert r.loss == pytest.approx(float(((o.astype(np.float64) - onehot) ** 2).sum()), rel=1e-6)
    np.testing.assert_array_equal(o, net.predict(ds, timesteps=12, threads=1))  # thread-free


def test_evaluator_gives_predict_and_evaluate_exactly(tiny_data):
    """An Evaluator made once gives Net.predict's and Net.evaluate's bits on every call, one
    image at a time too; it keeps the weights it took until reload()."""
    x, y = tiny_data
    net, ds = sb.Net(TINY, seed=2), sb.Dataset.from_arrays(*tiny_data)
    want = net.predict(ds, timesteps=12, threads=2)
    with net.evaluator(timesteps=12, threads=2) as ev:
        assert ev.timesteps == 12
        for _ in range(2):
            np.testing.assert_array_equal(ev.predict(ds), want)
            assert ev.evaluate(ds) == net.evaluate(ds, timesteps=12, threads=2)
        for i in (0, 17, 95):  # one image: the same as predict on that one-image set
            one = sb.Dataset.from_arrays(x[i:i + 1], y[i:i + 1])
            np.testing.assert_array_equal(ev.predict(one), net.predict(one, timesteps=12))
        net.weights(0)[...] *= 0.5
        changed = net.predict(ds, timesteps=12)
        assert not np.array_equal(changed, want)
        np.testing.assert_array_equal(ev.predict(ds), want)  # not reloaded yet
        ev.reload()
        np.testing.assert_array_equal(ev.predict(ds), changed)
        with pytest.raises(sb.SpikebpError, match="8x8x1 but the network expects 12x12x1"):
            ev.predict(sb.Dataset.from_arrays(np.zeros((2, 8, 8), np.uint8), np.arange(2)))
    with pytest.raises(ValueError, match="closed"):
        ev.predict(ds)
    with pytest.raises(sb.SpikebpError):
        net.evaluator(timesteps=0)


def test_spike_stats_input_rate_is_the_encoders_probability():
    """Pixel 204 is encoded with probability 204/255·½ = 0.4 per step (§1, npy images): over
    32 images × 144 positions × 40 steps the measured rate lies within a few σ of it. A
    black image makes no spike anywhere (no bias), exactly."""
    net = sb.Net(TINY, seed=1)
    grey = sb.Dataset.from_arrays(np.full((32, 12, 12), 204, np.uint8), np.arange(32) % 4)
    st = net.spike_stats(grey, timesteps=40, images=0)
    assert [s.name for s in st] == ["input", "8C3", "P2", "20FC", "4 out"]
    assert st[0].neurons == 144 and st[1].neurons == 8 * 144 and st[3].neurons == 20
    sigma = np.sqrt(0.4 * 0.6 / (32 * 144 * 40))
    assert abs(st[0].rate - 0.4) < 5 * sigma
    assert st[1].macs_step == 8 * 144 * 9  # padded 3×3 convolution, one ANN pass
    black = sb.Dataset.from_arrays(np.zeros((8, 12, 12), np.uint8), np.arange(8) % 4)
    for s in net.spike_stats(black, timesteps=10)[:-1]:
        assert s.rate == 0.0 and s.silent == 1.0
    assert np.isnan(st[-1].rate) and not st[-1].spiking


def test_blas_kernels_named():
    # the kernels OpenBLAS chose, as the library names them (spikebp.h: sbp_describe_blas)
    text = sb.describe_blas()
    assert text.startswith("OpenBLAS ") and " kernels" in text
    assert sb.ffi.string(sb.lib.sbp_blas_kernels()).decode() in text
