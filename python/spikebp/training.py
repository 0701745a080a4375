"""Training: a Trainer over sbp_trainer (one mini-batch per step) and train(), the CLI's loop
with callbacks per batch and per epoch.

Ctrl-C: a batch runs inside one C call, which Python does not interrupt; the KeyboardInterrupt
is raised when that call returns, so training stops after the current batch with the weights
of the last completed batch, and the `with` block frees the trainer."""

import collections
import time

from ._errors import call
from ._ffi import ffi, lib
from ._memory import Handle, field_names, set_fields

BatchResult = collections.namedtuple(
    "BatchResult", "loss correct samples epoch batch_index batches_per_epoch lr")
EpochResult = collections.namedtuple(
    "EpochResult", "epoch loss accuracy test_loss test_accuracy test_correct seconds lr")

# The fields an evaluation after an epoch takes from the training options: those both structs
# have (T, threads, the implementation), except the two whose meaning differs (evaluation's
# batch is a memory chunk; its seed is the evaluation encoding seed, 1 as in the CLI).
_SHARED = [f for f in field_names("sbp_train_opts") if f in field_names("sbp_eval_opts")
           and f not in ("batch", "seed")]


def train_options(data=None, lr_milestones=None, **options):
    """An sbp_train_opts: the library's defaults (SPEC §4, MNIST column), then the fields given
    by name (epochs, timesteps, batch, lr, weight_decay, lr_factor, backward, seed, threads,
    ...). lr_milestones are 1-based epochs, as on the command line. T defaults to a spike
    data set's own T."""
    o = ffi.new("sbp_train_opts *")
    lib.sbp_train_opts_default(o)
    if options.get("timesteps") is None and data is not None and data.timesteps:
        options["timesteps"] = data.timesteps
    if lr_milestones is not None:
        ms = [int(m) - 1 for m in lr_milestones]
        options.update(lr_milestones=ms, n_milestones=len(ms))
    set_fields(o, options, "training")
    return o


class Trainer(Handle):
    """Mini-batch SGD of `net` on `data` (both kept alive by the trainer). Use as a context
    manager or call close(); step() runs one batch and returns a BatchResult."""

    _free = staticmethod(lib.sbp_trainer_free)
    _what = "trainer"

    def __init__(self, net, data, **options):
        self.net, self.data = net, data
        self.options = train_options(data, **options)
        out = ffi.new("sbp_trainer **")
        call(lib.sbp_trainer_create, out, net._ptr, data._ptr, self.options)
        self._ptr = out[0]

    @property
    def done(self):
        return bool(lib.sbp_trainer_done(self._live()))

    @property
    def position(self):
        """(epoch, batch) of the next batch to run, 0-based."""
        e, b = ffi.new("int *"), ffi.new("size_t *")
        lib.sbp_trainer_position(self._live(), e, b)
        return (e[0], b[0])

    def seek(self, epoch, batch):
        call(lib.sbp_trainer_seek, self._live(), int(epoch), int(batch))

    def step(self):
        r = ffi.new("sbp_batch_result *")
        call(lib.sbp_trainer_step, self._live(), r)
        return BatchResult(r.loss, r.correct, r.samples, r.epoch, r.batch_index,
                           r.batches_per_epoch, r.lr)


def train(net, data, epochs=1, test=None, on_batch=None, on_epoch=None, **options):
    """Trains `net` on `data` for `epochs` epochs, as `spikebp train` does, and returns the
    list of EpochResult. After each epoch `test` (a Dataset, optional) is evaluated with the
    CLI's settings. on_batch(BatchResult) is called after every batch and may return False to
    stop; on_epoch(EpochResult) after every epoch. Other options: see train_options()."""
    results = []
    with Trainer(net, data, epochs=epochs, **options) as tr:
        o = tr.options
        net.set_meta("timesteps", o.timesteps)
        net.set_meta("backward", ffi.string(lib.sbp_backward_name(o.backward)).decode())
        if getattr(data, "name", None):  # as the CLI records --data
            net.set_meta("data", data.name)
        stop = False
        while not tr.done and not stop:
            loss = correct = seen = 0
            start = time.monotonic()
            while True:
                b = tr.step()
                loss += b.loss
                correct += b.correct
                seen += b.samples
                if on_batch is not None and on_batch(b) is False:
                    stop = True
                if stop or b.batch_index + 1 == b.batches_per_epoch:
                    break
            seconds = time.monotonic() - start
            t = None
            if test is not None:
                t = net.evaluate(test, **{f: getattr(o, f) for f in _SHARED})
            r = EpochResult(b.epoch, loss / seen, correct / seen, t and t.loss / t.images,
                            t and t.accuracy, t and t.correct, seconds, b.lr)
            results.append(r)
            if not stop:
                net.set_meta("epochs", b.epoch + 1)
            if t is not None:
                net.set_meta("test_accuracy", "%.6f" % t.accuracy)
            if on_epoch is not None:
                on_epoch(r)
    return results
