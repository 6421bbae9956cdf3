"""The library's own error types: each message names the op and the shapes involved."""


class ShapeError(ValueError):
    """Shapes that do not fit an op; the message names the op and every shape involved."""
