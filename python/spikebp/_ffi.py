"""Loading libspikebp: cffi in ABI mode, declarations read from the library's own header.

Why cffi's ABI mode and not ctypes: the structs the API passes by pointer (sbp_net_spec,
sbp_train_opts, sbp_eval_opts, ...) are declared once, in spikebp.h, and cffi parses C
declarations, so the binding reads them from the header instead of restating every field in
Python (ctypes would need a hand-kept copy of each struct, wrong the day a field is added).
ABI mode needs no C compiler at install time (Debian's python3-cffi is enough).

Where the files are found, in order:
  library: $SPIKEBP_LIB; the copy installed next to this package (pip install); the build
           tree of a source checkout (../../build); the system's (make install, ldconfig).
  header:  $SPIKEBP_HEADER; the copy installed next to this package; the source tree's
           include/; ../include next to the library's folder (an installed prefix).
"""

import os
import re

import cffi

_HERE = os.path.dirname(os.path.abspath(__file__))
_SOURCE_ROOT = os.path.dirname(os.path.dirname(_HERE))  # python/spikebp -> repository root


def _candidates_lib():
    env = os.environ.get("SPIKEBP_LIB")
    if env:
        return [env]  # explicit: no silent fallback to another copy
    out = [os.path.join(_HERE, "libspikebp.so")]
    for build in ("build", "build-release"):
        out.append(os.path.join(_SOURCE_ROOT, build, "libspikebp.so"))
    out += ["libspikebp.so.0", "libspikebp.so"]  # the dynamic linker's search path
    return out


def _candidates_header(libpath):
    env = os.environ.get("SPIKEBP_HEADER")
    if env:
        return [env]
    out = [os.path.join(_HERE, "spikebp.h"), os.path.join(_SOURCE_ROOT, "include", "spikebp.h")]
    if libpath and os.path.isabs(libpath):
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(libpath)))
        out.append(os.path.join(prefix, "include", "spikebp.h"))
    return out


def _int_value(text):
    try:
        return int(text.rstrip("uUlL"), 0)
    except ValueError:
        return None


def declarations(header_text):
    """The header as cffi's cdef accepts it: preprocessor lines resolved the simple way the
    public header needs (include guard, the C++ extern block, integer constants, attribute
    macros), everything else passed through unchanged."""
    out, skip_stack, ints, strings, blanks, macros = [], [], {}, {}, [], []
    for line in header_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            directive = stripped[1:].strip()
            word = directive.split(None, 1)[0] if directive else ""
            if word in ("if", "ifdef", "ifndef"):
                # only C++'s block is dropped; the include guard and anything else is kept
                skip_stack.append("__cplusplus" in directive)
            elif word == "endif" and skip_stack:
                skip_stack.pop()
            elif word == "define" and not any(skip_stack):
                parts = directive.split(None, 2)
                if len(parts) >= 2 and "(" in parts[1]:  # NAME(args) __attribute__((...))
                    body = parts[2].strip() if len(parts) == 3 else ""
                    if body == "" or body.startswith("__attribute__"):
                        macros.append(parts[1].split("(", 1)[0])
                elif len(parts) >= 2:
                    value = parts[2].strip() if len(parts) == 3 else ""
                    value = re.sub(r"/\*.*?\*/|//.*", "", value).strip()
                    number = _int_value(value)
                    if number is not None:
                        ints[parts[1]] = number
                    elif re.fullmatch(r'"[^"\\]*"', value):
                        strings[parts[1]] = value[1:-1]  # e.g. the version; not for cdef
                    elif value == "" or value.startswith("__attribute__"):
                        blanks.append(parts[1])  # export/visibility markers
            out.append("")
            continue
        out.append("" if any(skip_stack) else line)
    text = "\n".join(out)
    for name in macros:
        text = re.sub(r"\b%s\s*\((?:[^()]|\([^()]*\))*\)" % re.escape(name), "", text)
    for name in blanks:
        text = re.sub(r"\b%s\b" % re.escape(name), "", text)
    for name, number in ints.items():  # array sizes such as SBP_MAX_LAYERS
        text = re.sub(r"\b%s\b" % re.escape(name), str(number), text)
    return text, dict(ints, **strings)


def _load():
    tried = []
    ffi = cffi.FFI()
    lib = libpath = None
    for cand in _candidates_lib():
        if os.path.isabs(cand) and not os.path.exists(cand):
            tried.append(cand + " (missing)")
            continue
        try:
            lib = ffi.dlopen(cand)
            libpath = cand
            break
        except OSError as e:
            tried.append("%s (%s)" % (cand, e))
    if lib is None:
        raise ImportError("spikebp: cannot load libspikebp; tried " + "; ".join(tried) +
                          ". Build it (cmake --build build) or set SPIKEBP_LIB to its path.")
    for cand in _candidates_header(libpath):
        if os.path.exists(cand):
            with open(cand, encoding="utf-8") as f:
                text, constants = declarations(f.read())
            ffi.cdef(text)
            return ffi, lib, libpath, cand, constants
    raise ImportError("spikebp: cannot find spikebp.h for %s; set SPIKEBP_HEADER" % libpath)


ffi, lib, LIBRARY_PATH, HEADER_PATH, CONSTANTS = _load()
