"""Loaded at start-up when this directory is on PYTHONPATH: restores the `collections`
aliases (Mapping, MutableMapping, ...) that Python 3.10 removed and dcoscli 0.6.1 uses."""
import collections
import collections.abc

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "Set", "MutableSet", "Hashable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
