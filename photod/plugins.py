"""The plugin system (pluggy).

Built-in features register through exactly the same hooks and entry-point group
(``photod``) as third-party plugins; loose ``*.py`` files from ``plugins.paths`` folders are
loaded too. A plugin that fails to import or register is logged with its name and skipped:
a broken plugin never stops the daemon. A wrong *setting* does, like any configuration error:
a plugin declares its settings as a pydantic model (``photod_settings``), and its section
``plugins.settings.<plugin name>`` is validated against it at start-up.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import pluggy
from pydantic import BaseModel, ValidationError

from photod.config import PluginsConfig, validation_message
from photod.errors import ConfigError

log = logging.getLogger(__name__)

PROJECT = "photod"
ENTRY_POINT_GROUP = "photod"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Settings = TypeVar("Settings", bound=BaseModel)


class PhotodHookSpecs:
    """The hooks a plugin may implement. Each returns classes, not instances.

    photod builds a stage, head or listener class once with ``cls.create(app)``: the host
    :class:`photod.app.App` (its ``config``, ``index``, ``features``, ``catalog`` ...), and
    the plugin's validated settings from ``app.plugins.settings(name, Model)``.
    """

    @hookspec
    def photod_stages(self) -> list[type]:
        """Pipeline stage classes, each naming its ``slot`` (see :mod:`photod.pipeline.stage`)."""

    @hookspec
    def photod_heads(self) -> list[type]:
        """Concept head classes (see :mod:`photod.heads.base`)."""

    @hookspec
    def photod_vlm_backends(self) -> list[type]:
        """Vision-language model backend classes (see :mod:`photod.vlm`)."""

    @hookspec
    def photod_listeners(self) -> list[type]:
        """Classes called after each photo's commit (see :mod:`photod.pipeline.events`)."""

    @hookspec
    def photod_settings(self) -> type[BaseModel]:
        """The pydantic model of this plugin's ``plugins.settings.<plugin name>`` section.

        Forbid extra keys (``model_config = ConfigDict(extra="forbid")``) so that a typo is
        an error; read the validated values with :meth:`PluginRegistry.settings`.
        """


@dataclass
class LoadedPlugin:
    """What ``photod plugins`` shows for one plugin."""

    name: str
    source: str  # "entry point <dist>", "file <path>"
    hooks: list[str]
    error: str | None = None


class PluginRegistry:
    """A pluggy manager plus a record of what loaded and what failed."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(PhotodHookSpecs)
        self.loaded: list[LoadedPlugin] = []
        self._settings: dict[str, BaseModel] = {}

    def register(self, plugin: object, name: str, source: str) -> None:
        """Register one plugin object (module or instance); failures are recorded, not raised."""
        try:
            self.manager.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must not stop photod
            log.error("plugin %s (%s) failed to register: %s", name, source, exc)
            self.loaded.append(LoadedPlugin(name, source, [], f"{type(exc).__name__}: {exc}"))
            return
        hooks = sorted(h.name for h in self.manager.get_hookcallers(plugin) or [])
        self.loaded.append(LoadedPlugin(name, source, hooks))

    def collect(self, hook: str) -> list[type]:
        """All classes returned by ``hook`` across plugins, attributing errors to the plugin."""
        caller = getattr(self.manager.hook, hook)
        out: list[type] = []
        for impl in caller.get_hookimpls():
            try:
                result = impl.function()
            except Exception as exc:
                log.error("plugin %s: hook %s failed: %s", impl.plugin_name, hook, exc)
                self._mark_error(impl.plugin_name, f"{hook}: {type(exc).__name__}: {exc}")
                continue
            out.extend(result or [])
        return out

    def validate_settings(self, sections: dict[str, dict[str, Any]]) -> None:
        """Validate each plugin's settings section against the model the plugin declares.

        Raises :class:`ConfigError` naming the first wrong key; a section that no loaded plugin
        declares (e.g. of a disabled plugin) is logged and ignored.
        """
        for impl in self.manager.hook.photod_settings.get_hookimpls():
            name = impl.plugin_name
            try:
                model = impl.function()
            except Exception as exc:
                log.error("plugin %s: hook photod_settings failed: %s", name, exc)
                self._mark_error(name, f"photod_settings: {type(exc).__name__}: {exc}")
                continue
            try:
                self._settings[name] = model.model_validate(sections.get(name) or {})
            except ValidationError as exc:
                prefix = f"plugins.settings.{name}"
                raise ConfigError(validation_message(exc, prefix)) from exc
        for name in sorted(set(sections) - set(self._settings)):
            log.warning("plugins.settings.%s: no loaded plugin declares it; ignored", name)

    def settings(self, name: str, model: type[Settings]) -> Settings:
        """Plugin ``name``'s validated settings (its defaults if its plugin declared none)."""
        found = self._settings.get(name)
        return found if isinstance(found, model) else model()

    def _mark_error(self, name: str, error: str) -> None:
        for p in self.loaded:
            if p.name == name:
                p.error = error


def _load_file(path: Path) -> object:
    module_name = f"photod_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_plugins(config: PluginsConfig) -> PluginRegistry:
    """Register the entry-point plugins (built-ins included) and the loose plugin files."""
    registry = PluginRegistry()
    disabled = set(config.disabled)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in disabled:
            continue
        dist = ep.dist.name if ep.dist else "?"
        try:
            plugin = ep.load()
        except Exception as exc:
            log.error("plugin %s (from %s) failed to import: %s", ep.name, dist, exc)
            registry.loaded.append(
                LoadedPlugin(ep.name, f"entry point {dist}", [], f"{type(exc).__name__}: {exc}")
            )
            continue
        registry.register(plugin, ep.name, f"entry point {dist}")
    for folder in config.paths:
        for path in sorted(Path(folder).expanduser().glob("*.py")):
            if path.stem in disabled or path.name.startswith("_"):
                continue
            try:
                plugin = _load_file(path)
            except Exception as exc:
                log.error("plugin file %s failed to import: %s", path, exc)
                registry.loaded.append(
                    LoadedPlugin(path.stem, f"file {path}", [], f"{type(exc).__name__}: {exc}")
                )
                continue
            registry.register(plugin, path.stem, f"file {path}")
    registry.validate_settings(config.settings)
    return registry
