"""Networks: built from a name, the paper's notation or a description; weights as numpy
views; save/load and .npz interchange; evaluation, prediction and spike statistics."""

import collections
import os

import numpy as np

from ._errors import call
from ._ffi import ffi, lib
from ._memory import Handle, set_fields, view

Layer = collections.namedtuple("Layer", "index kind shape weights_shape shortcut")
EvalResult = collections.namedtuple("EvalResult", "images correct loss accuracy")
LayerStats = collections.namedtuple(
    "LayerStats", "name kind spiking neurons rate silent saturated acs macs_step")


def _spec_from(what):
    """The network spec of `what`, read as the CLI's --net reads it: an existing file (or a
    path-like name) is a description file, text with sections ("[") a description, text with "x" and "-" the
    paper's notation ("28x28x1-20C5-P2-50C5-P2-200FC-10"), anything else a built-in name."""
    spec = ffi.new("sbp_net_spec *")
    if isinstance(what, os.PathLike) or (isinstance(what, str) and os.path.isfile(what)):
        call(lib.sbp_net_spec_load, spec, os.fsencode(os.fspath(what)))
    elif "/" in what or what.endswith((".cfg", ".net")):
        call(lib.sbp_net_spec_load, spec, os.fsencode(what))  # a missing file: say so
    elif "[" in what:
        call(lib.sbp_net_spec_parse_description, spec, what.encode(), b"<description>")
    elif "-" in what and "x" in what:
        call(lib.sbp_net_spec_parse, spec, what.encode())
    else:
        call(lib.sbp_net_spec_builtin, spec, what.encode())
    return spec


def eval_options(timesteps, data, options):
    """An sbp_eval_opts: the library's defaults, then T (None: the data's own T for spike
    data, else 100) and any other field by name (seed, threads, batch, impl, ...)."""
    o = ffi.new("sbp_eval_opts *")
    lib.sbp_eval_opts_default(o)
    if timesteps is None and data is not None and data.timesteps:
        timesteps = data.timesteps
    set_fields(o, dict(options, timesteps=timesteps), "evaluation")
    return o


class Net:
    """A spiking network (sbp_net). Net("lenet"), Net("28x28x1-20C5-P2-50C5-P2-200FC-10"),
    Net("net.cfg") or Net(description_text); weights drawn per §4 from `seed`."""

    def __init__(self, what="lenet", seed=1):
        spec = _spec_from(what)
        out = ffi.new("sbp_net **")
        call(lib.sbp_net_create, out, spec, int(seed))
        self._ptr = ffi.gc(out[0], lib.sbp_net_free)

    @classmethod
    def _wrap(cls, pointer):
        net = cls.__new__(cls)
        net._ptr = ffi.gc(pointer, lib.sbp_net_free)
        return net

    @classmethod
    def load(cls, path):
        """A model file written by save() or `spikebp train --save`."""
        out = ffi.new("sbp_net **")
        call(lib.sbp_net_load, out, os.fsencode(os.fspath(path)))
        return cls._wrap(out[0])

    def save(self, path):
        call(lib.sbp_net_save, self._ptr, os.fsencode(os.fspath(path)))

    def export_npz(self, path):
        """Weights as .npz in PyTorch layout ("layer<i>.<kind>.weight"), as `spikebp export`."""
        call(lib.sbp_net_export_npz, self._ptr, os.fsencode(os.fspath(path)))

    def import_npz(self, path):
        """Loads weights from .npz (strict: every tensor with its shape; all or nothing)."""
        call(lib.sbp_net_import_npz, self._ptr, os.fsencode(os.fspath(path)))

    # -------------------------------------------------------------- structure
    @property
    def spec(self):
        return lib.sbp_net_get_spec(self._ptr)

    @property
    def notation(self):
        buf = ffi.new("char[4096]")
        call(lib.sbp_net_spec_format, self.spec, buf, len(buf))
        return ffi.string(buf).decode()

    def __repr__(self):
        return "<spikebp.Net %s, %d parameters>" % (self.notation, self.param_count)

    @property
    def param_count(self):
        return lib.sbp_net_param_count(self._ptr)

    @property
    def input_shape(self):
        s = self.spec
        return (s.in_c, s.in_h, s.in_w)

    def __len__(self):
        return self.spec.n_layers

    @property
    def classes(self):
        return self.layer_shape(len(self) - 1)[0]

    def layer_shape(self, i):
        """Output shape (C, H, W) of layer i (dense layers: (features, 1, 1))."""
        c, h, w = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
        lib.sbp_net_layer_shape(self._ptr, i, c, h, w)
        return (c[0], h[0], w[0])

    def _shape(self, i, count, shortcut):
        """PyTorch shape of a weight tensor of `count` floats: conv (Cout, Cin, k, k), a 1×1
        shortcut (Cout, Cin, 1, 1), any other layer (out, in). From the kind's name and the
        count, so that a new layer kind with weights needs no change here."""
        L = self.spec.layers[i]
        kind = ffi.string(lib.sbp_layer_kind_name(L.kind)).decode()
        k = 1 if shortcut else L.kernel if kind == "conv" else None
        if k is None:
            return (L.out, count // L.out)
        return (L.out, count // (L.out * k * k), k, k)

    def _pointer(self, i, shortcut):
        if not 0 <= i < len(self):
            raise IndexError("layer %d of a %d-layer network" % (i, len(self)))
        count = ffi.new("size_t *")
        fn = lib.sbp_net_shortcut_weights if shortcut else lib.sbp_net_layer_weights
        p = fn(self._ptr, i, count)
        if p == ffi.NULL:
            return None, None
        return p, self._shape(i, count[0], shortcut)

    @property
    def layers(self):
        out = []
        for i in range(len(self)):
            L = self.spec.layers[i]
            kind = ffi.string(lib.sbp_layer_kind_name(L.kind)).decode()
            sc = ffi.string(lib.sbp_shortcut_name(L.shortcut)).decode()
            out.append(Layer(i, kind, self.layer_shape(i), self._pointer(i, False)[1],
                             None if L.shortcut == lib.SBP_SHORTCUT_NONE else sc))
        return out

    # -------------------------------------------------------------- weights
    def weights(self, i, copy=False):
        """Weights of layer i in PyTorch layout: conv (Cout, Cin, k, k), dense/output
        (out, in) — a writable float32 VIEW of the network's memory (copy=False: writing
        into it changes the network; training updates it in place), or a copy. None for
        layers without weights (pooling)."""
        return self._tensor(i, False, copy)

    def shortcut_weights(self, i, copy=False):
        """The 1×1 shortcut convolution of layer i (Cout, Cin, 1, 1), or None."""
        return self._tensor(i, True, copy)

    def _tensor(self, i, shortcut, copy):
        p, shape = self._pointer(i, shortcut)
        if p is None:
            return None
        a = view(p, shape, np.float32, self)
        return a.copy() if copy else a

    def state_dict(self, copy=True):
        """{name: array} with the names of export_npz; copies unless copy=False (views)."""
        out = {}
        for L in self.layers:
            w = self.weights(L.index, copy)
            if w is not None:
                out["layer%d.%s.weight" % (L.index, L.kind)] = w
            s = self.shortcut_weights(L.index, copy)
            if s is not None:
                out["layer%d.shortcut.weight" % L.index] = s
        return out

    def load_state_dict(self, weights):
        """Copies arrays into the network (names and shapes of state_dict, all required);
        checked first, so a failure changes nothing."""
        targets = self.state_dict(copy=False)
        missing = sorted(set(targets) - set(weights))
        if missing:
            raise KeyError("weights missing: " + ", ".join(missing))
        values = {}
        for name, dst in targets.items():
            src = np.asarray(weights[name])
            if src.shape != dst.shape:
                raise ValueError("%s: shape %s, the network has %s" % (name, src.shape, dst.shape))
            if not np.all(np.isfinite(src)):
                raise ValueError("%s: not all values are finite" % name)
            values[name] = src
        for name, dst in targets.items():
            dst[...] = values[name]

    # -------------------------------------------------------------- metadata
    def get_meta(self, key):
        p = lib.sbp_net_get_meta(self._ptr, key.encode())
        return None if p == ffi.NULL else ffi.string(p).decode()

    def set_meta(self, key, value):
        call(lib.sbp_net_set_meta, self._ptr, key.encode(), str(value).encode())

    # -------------------------------------------------------------- inference
    def evaluate(self, data, timesteps=None, **options):
        """Accuracy and loss on `data` (encoding seed 1 unless seed= is given, as the CLI)."""
        o = eval_options(timesteps, data, options)
        r = ffi.new("sbp_eval_result *")
        call(lib.sbp_eval, self._ptr, data._ptr, o, r)
        return EvalResult(r.images, r.correct, r.loss, r.accuracy)

    def predict(self, data, timesteps=None, **options):
        """Outputs o = M[T-1]/T of every sample: float32 (N, classes), written by the library
        straight into the returned array. argmax(axis=1) is the predicted class."""
        o = eval_options(timesteps, data, options)
        out = np.empty((len(data), self.classes), np.float32)
        call(lib.sbp_predict, self._ptr, data._ptr, o, ffi.from_buffer("float[]", out))
        return out

    def evaluator(self, timesteps=None, **options):
        """An Evaluator: evaluate() and predict() with the engines and the converted weights
        made once, for many small calls (one image at a time). Same options as evaluate()."""
        return Evaluator(self, timesteps, **options)

    def spike_stats(self, data, timesteps=None, images=64, **options):
        """Per-group spike statistics over the first `images` samples (0 = all): a list of
        LayerStats, the encoded input first, then every layer (rate = spikes per neuron per
        step; silent / saturated fractions; accumulates and dense MACs per image)."""
        o = eval_options(timesteps, data, options)
        stats = ffi.new("sbp_layer_stats[]", 1 + len(self))
        call(lib.sbp_spike_stats, self._ptr, data._ptr, o, int(images), stats)
        return [LayerStats(ffi.string(s.name).decode(), ffi.string(s.kind).decode(),
                           bool(s.spiking), s.neurons, s.rate, s.silent, s.saturated, s.acs,
                           s.macs_step) for s in stats]



class Evaluator(Handle):
    """A reusable evaluation of `net` (sbp_evaluator): the per-thread engines and the weights in
    the library's layout are made once, so repeated calls — one image at a time — skip that
    work; each call gives exactly Net.evaluate's / Net.predict's result. It uses the weights
    `net` held when it was made: after training or changing them call reload(). T is fixed
    when it is made (timesteps=, default 100). Use as a context manager or call close()."""

    _free = staticmethod(lib.sbp_evaluator_free)
    _what = "evaluator"

    def __init__(self, net, timesteps=None, **options):
        self.net = net  # kept alive: the evaluator reads its layers
        self.options = eval_options(timesteps, None, options)
        out = ffi.new("sbp_evaluator **")
        call(lib.sbp_evaluator_create, out, net._ptr, self.options)
        self._ptr = out[0]

    @property
    def timesteps(self):
        return self.options.timesteps

    def reload(self):
        """Takes the network's current weights."""
        call(lib.sbp_evaluator_reload, self._live())

    def evaluate(self, data):
        r = ffi.new("sbp_eval_result *")
        call(lib.sbp_evaluator_eval, self._live(), data._ptr, r)
        return EvalResult(r.images, r.correct, r.loss, r.accuracy)

    def predict(self, data):
        ptr = self._live()
        out = np.empty((len(data), self.net.classes), np.float32)
        call(lib.sbp_evaluator_predict, ptr, data._ptr, ffi.from_buffer("float[]", out))
        return out
