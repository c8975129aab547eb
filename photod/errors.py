"""One exception hierarchy for photod.

A :class:`PhotoError` is about one photo: it is recorded in the index and the daemon goes on.
Everything else is about photod itself (configuration, a model, a plugin).
"""

# Exit status for a configuration error (sysexits.h EX_CONFIG); systemd shows it as such.
EX_CONFIG = 78


class PhotodError(Exception):
    """Base class of every error photod raises on purpose."""


class ConfigError(PhotodError):
    """The configuration is invalid; the message names the key."""


class ModelLoadError(PhotodError):
    """A model could not be loaded; the message says how to get it or how to switch."""


class PluginError(PhotodError):
    """A plugin failed to load or register; attributed to the plugin by name."""


class PhotoError(PhotodError):
    """Processing one photo failed; ``stage`` says where, the message says why.

    ``version``: (size, mtime_ns) of the file version the error is about, when it was read.
    A photo still being copied can fail as empty and be complete a moment later; the
    failure must name the version that failed, so that the complete one is tried.
    """

    def __init__(
        self, message: str, *, stage: str = "ingest", version: tuple[int, int] | None = None
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.version = version
