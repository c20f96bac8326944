"""Shared library of the spidernet CNI suite (ifacer, spiderpool IPAM, coordinator, GC, installer).

Layering, from the bottom: ``types`` (pure data: results, configs, conversions) <
``protocol`` (the CNI calling convention: env, stdin, stdout, errors, logs) < plugins.
Modules say in their docstring whether they do I/O.
"""
