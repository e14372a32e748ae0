"""The one error type for bad training or evaluation data.

Every message names the row and field (or the columns found) and what was expected,
so a user can fix the file without reading our code.
"""


class DataError(ValueError):
    """Training or evaluation data that cannot be used as it is."""
