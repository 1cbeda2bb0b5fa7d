"""Exceptions and warnings raised by crowdagg.

Every error crowdagg raises on purpose derives from :class:`CrowdaggError`, so
``except crowdagg.errors.CrowdaggError`` catches them all.  Each specific class
also derives from the built-in exception a Python user would expect
(``ValueError``, ``TypeError`` or ``KeyError``), so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "CrowdaggError",
    "InputError",
    "MissingColumnError",
    "EmptyTableError",
    "NullIdError",
    "MixedIdTypeError",
    "UnhashableIdError",
    "UnknownLabelError",
    "DuplicateAnnotationError",
    "GoldError",
    "WeightsError",
    "InitParamsError",
    "NotFittedError",
    "AgreementUndefinedError",
    "LevelError",
    "FormatError",
    "InputFileNotFoundError",
    "DatasetNotFoundError",
    "EncodingError",
    "NotAFileError",
    "FileAccessError",
    "ParameterError",
    "NumericalError",
    "TooLargeError",
    "OutputError",
    "ModelFileError",
    "ModelVersionError",
    "ModelIntegrityError",
    "ModelSaveError",
    "MissingDependencyError",
    "ConvergenceWarning",
    "CrowdaggWarning",
    "SimilarLabelsWarning",
    "DroppedRowsWarning",
]


class CrowdaggError(Exception):
    """Base class of every exception raised by crowdagg."""


class InputError(CrowdaggError, ValueError):
    """The input data or an argument is invalid."""


class MissingColumnError(InputError, KeyError):
    """A required column is absent from the input table."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class EmptyTableError(InputError):
    """The input has no rows (or no usable annotation)."""


class NullIdError(InputError):
    """An item or worker id is null."""


class MixedIdTypeError(InputError, TypeError):
    """An id column mixes types (e.g. ints and strings)."""


class UnhashableIdError(InputError, TypeError):
    """An id or label value is not a hashable scalar (lists, dicts, tuples, ...)."""


class UnknownLabelError(InputError):
    """A label is not in the declared label set."""


class DuplicateAnnotationError(InputError):
    """The same worker labelled the same item more than once."""


class GoldError(InputError):
    """Gold answers name unknown items or labels, or are malformed."""


class WeightsError(InputError):
    """Worker weights are missing, negative or not finite."""


class InitParamsError(InputError):
    """Parameters given for a warm start do not fit the model or the data."""


class NotFittedError(CrowdaggError, AttributeError):
    """An estimator was used before ``fit``."""


class AgreementUndefinedError(InputError):
    """An agreement coefficient is undefined for this data (say, one label in use)."""


class LevelError(InputError, TypeError):
    """A measurement level does not fit the labels (e.g. interval on strings)."""


class FormatError(InputError):
    """A file does not have the expected format."""


class EncodingError(FormatError, UnicodeError):
    """A text file is not in the expected encoding (UTF-8)."""


class InputFileNotFoundError(CrowdaggError, FileNotFoundError):
    """An input file does not exist."""


class NotAFileError(CrowdaggError, IsADirectoryError):
    """A path names a directory (or something else) where a file is expected."""


class FileAccessError(CrowdaggError, PermissionError):
    """A file exists but cannot be read (permission denied, or another operating-system error)."""


class ParameterError(InputError):
    """An estimator's hyper-parameter (or ``random_state``) is out of its domain."""


class NumericalError(CrowdaggError, ArithmeticError):
    """A computation produced non-finite values (overflow, a degenerate model)."""


class TooLargeError(InputError, MemoryError):
    """The input would need more memory than crowdagg allows itself; refused up front."""


class OutputError(CrowdaggError, OSError):
    """An output cannot be written: unknown format, a folder, the input itself, no permission."""


class DatasetNotFoundError(CrowdaggError, FileNotFoundError):
    """A dataset is not available locally."""


class CrowdaggWarning(UserWarning):
    """Base class of crowdagg's warnings."""


class ConvergenceWarning(CrowdaggWarning):
    """An iterative method stopped at ``max_iter`` before reaching ``tol``."""


class SimilarLabelsWarning(CrowdaggWarning):
    """Distinct labels differ only by surrounding whitespace or by case."""


class DroppedRowsWarning(CrowdaggWarning):
    """Rows of the input were left out (null labels, rejected assignments, duplicates)."""


class MissingDependencyError(CrowdaggError, ImportError):
    """An optional dependency is not installed (e.g. Jinja2 and matplotlib for the
    HTML report: the ``report`` extra); the message names the extra to install."""


class ModelFileError(FormatError):
    """A file is not a crowdagg model file, or cannot be read as one."""


class ModelVersionError(ModelFileError):
    """A model file was written by a newer format version (or a crowdagg whose parameters differ)."""


class ModelIntegrityError(ModelFileError):
    """A model file is truncated or was altered (a checksum or CRC does not match)."""


class ModelSaveError(CrowdaggError, TypeError):
    """An estimator's state holds a value that cannot be saved."""
