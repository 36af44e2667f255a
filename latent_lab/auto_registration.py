"""Register lstm/rnn with transformers' AutoConfig / AutoModelForCausalLM for `import latent_lab`
users, without importing torch or transformers at `import latent_lab` (so the CLI starts fast).

Importing latent_lab.models registers both. If transformers' auto modules are already loaded,
install() imports it at once. Otherwise a finder on sys.meta_path watches transformers' modules
load and imports it once an auto module has loaded AND the outermost transformers import has
finished: registering any earlier would import transformers modules that are still half
initialized (`from transformers import AutoModelForCausalLM` loads configuration_auto inside
modeling_auto; `PreTrainedModel` loads it inside modeling_utils). The auto module paths are
transformers internals: pyproject bounds transformers below 6, and tests/test_cli_startup.py
fails if registration stops working in either import order.
"""

from __future__ import annotations

import importlib
import sys
import threading

TRIGGERS = (
    "transformers.models.auto.configuration_auto",
    "transformers.models.auto.modeling_auto",
)


def _register() -> None:
    importlib.import_module("latent_lab.models")  # registers on import (exist_ok)


class _Watch(threading.local):
    depth = 0  # transformers modules being executed in this thread, nested
    triggered = False  # an auto module loaded in this thread


_watch = _Watch()


class _CountingLoader:
    """The real loader, with exec_module counted; other attributes are the real loader's."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        _watch.depth += 1
        try:
            self.loader.exec_module(module)
        finally:
            _watch.depth -= 1
        _watch.triggered = _watch.triggered or module.__name__ in TRIGGERS
        if _watch.triggered and _watch.depth == 0 and _uninstall():
            _register()


class _TransformersFinder:
    """Finds nothing itself: for a transformers module it wraps the real finder's loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] != "transformers":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _CountingLoader(spec.loader)
                return spec
        return None


_FINDER = _TransformersFinder()
_lock = threading.Lock()


def _uninstall() -> bool:
    """Remove the finder; True for the one caller that removed it (that caller registers)."""
    with _lock:
        if _FINDER not in sys.meta_path:
            return False
        sys.meta_path.remove(_FINDER)
        return True


def install() -> None:
    if any(name in sys.modules for name in TRIGGERS):
        _register()
    else:
        with _lock:
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)
