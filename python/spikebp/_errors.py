"""Library failures as Python exceptions: every sbp_* call that takes an sbp_error goes
through call(), which raises SpikebpError with the status and the library's own message."""

import enum

from ._ffi import ffi, lib

# The statuses of spikebp.h, by their C names without the prefix (OK, ERR_IO, ...).
Status = enum.IntEnum("Status", {name[len("SBP_"):]: value
                                 for name, value in ffi.typeof("sbp_status").relements.items()
                                 if name != "SBP_STATUS_COUNT"})


class SpikebpError(Exception):
    """A libspikebp call failed. .status is a Status, .message the library's message (it
    names the file or resource and what was wrong)."""

    def __init__(self, status, message):
        self.status = Status(status)
        self.message = message
        super().__init__(message)

    def __str__(self):
        return "%s [%s]" % (self.message, ffi.string(lib.sbp_status_string(self.status)).decode())


def call(fn, *args):
    """fn(*args, &err); raises SpikebpError unless it returns SBP_OK."""
    err = ffi.new("sbp_error *")
    status = fn(*args, err)
    if status != lib.SBP_OK:
        raise SpikebpError(status, ffi.string(err.msg).decode("utf-8", "replace"))
