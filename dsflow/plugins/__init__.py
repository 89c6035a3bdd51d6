"""dsflow's plugin system on pluggy: markers for plugin authors, the manager, the registry."""

from __future__ import annotations

import pluggy

PROJECT = "dsflow"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]
