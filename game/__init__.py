"""CyberMesh's game: one package per layer (engine, app, viewer, patterns, backends, sweep, …).

:mod:`game.engine` is the world and what runs it, :mod:`game.app` the composition root and the
command line, :mod:`game.viewer` the native window; see docs/architecture.md for the layers.
"""
