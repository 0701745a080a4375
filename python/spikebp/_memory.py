"""numpy arrays over memory the library owns, and C option structs filled from keywords.

A view is built through __array_interface__ from a holder object that keeps the owner (a Net
or Dataset) alive: numpy records the holder as the array's base, so the library memory cannot
be freed while a view of it exists."""

import numpy as np

from ._ffi import ffi


class _Holder:
    __slots__ = ("__array_interface__", "owner")

    def __init__(self, address, shape, typestr, readonly, owner):
        self.__array_interface__ = {"version": 3, "shape": tuple(shape), "typestr": typestr,
                                    "data": (address, readonly)}
        self.owner = owner


class Handle:
    """A library object that Python frees: close() (or the end of a `with` block, or garbage
    collection) calls `_free` once; `_live()` is the pointer, or ValueError once closed. A
    subclass sets `_free` (the library's *_free) and `_what` (its name in that error), and
    assigns `_ptr` only once creation has succeeded."""

    _ptr = None

    def close(self):
        if self._ptr is not None:
            self._free(self._ptr)
            self._ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _live(self):
        if self._ptr is None:
            raise ValueError("the %s is closed" % self._what)
        return self._ptr


def view(pointer, shape, dtype, owner, readonly=False):
    """A numpy array over `pointer` (cdata) with `shape`, keeping `owner` alive."""
    address = int(ffi.cast("uintptr_t", pointer))
    return np.asarray(_Holder(address, shape, np.dtype(dtype).str, readonly, owner))


def pointer_to(array, ctype):
    """A cdata pointer to a C-contiguous numpy array's data (no copy); the caller keeps
    `array` alive for as long as the pointer is used."""
    assert array.flags["C_CONTIGUOUS"]
    return ffi.cast(ctype, ffi.from_buffer(array, require_writable=False))


def _enum_value(ftype, value, field):
    """An enum field from a short name ("exact", "reference") or the C name or an int."""
    if not isinstance(value, str):
        return int(value)
    names = ftype.relements
    if value in names:
        return names[value]
    matches = [v for name, v in names.items()
               if name.lower().endswith("_" + value.lower()) and not name.endswith("_COUNT")]
    if len(matches) != 1:
        choices = sorted(name.rsplit("_", 1)[-1].lower() for name in names
                         if not name.endswith("_COUNT"))
        raise ValueError("%s: %r is not one of %s" % (field, value, ", ".join(choices)))
    return matches[0]


def set_fields(struct, options, what):
    """Assigns keyword options to the fields of a C struct (cdata pointer) by name, so that a
    field added to spikebp.h is usable from Python without a change here. Enum fields take
    the short name of their value."""
    fields = dict(ffi.typeof(struct).item.fields)
    for key, value in options.items():
        if value is None:
            continue
        if key not in fields:
            raise TypeError("%s: no option %r (the fields are %s)" %
                            (what, key, ", ".join(sorted(fields))))
        ftype = fields[key].type
        if ftype.kind == "enum":
            value = _enum_value(ftype, value, key)
        elif ftype.kind == "array":
            values = list(value)
            if len(values) > ftype.length:
                raise ValueError("%s: %s takes at most %d values" % (what, key, ftype.length))
            value = values + [0] * (ftype.length - len(values))
        setattr(struct, key, value)


def field_names(ctype):
    return [name for name, _ in ffi.typeof(ctype).fields]
