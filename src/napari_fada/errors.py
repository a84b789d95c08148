"""Exceptions with messages meant for the person at the keyboard."""


class FadaError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class ImageReadError(FadaError):
    """A file of a kind we read is corrupt, truncated or unsupported."""


class ModelLoadError(FadaError):
    """Model files are missing, corrupt, mismatched or of another version."""


class DatasetError(FadaError):
    """A dataset folder is empty, malformed or inconsistent."""


class WriteError(DatasetError):
    """A folder could not be written (full disk, no permission): nothing more can be saved."""


class Cancelled(FadaError):
    """The user cancelled a running job."""
