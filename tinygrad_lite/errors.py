"""The library's own error types: each message names the op and the shapes involved."""


class ShapeError(ValueError):
    """Shapes that do not fit an op; the message names the op and every shape involved."""


class AnomalyError(RuntimeError):
    """``detect_anomaly`` found a NaN or inf; the message names the forward op and the user's line."""


class CompileError(RuntimeError):
    """A feature that cannot work on a replayed program."""


def uncompiled(what):
    return CompileError(f"compile: {what} does not work under compile (the replay has no per-op graph); "
                        "call the uncompiled function instead")
