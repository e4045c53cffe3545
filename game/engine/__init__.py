"""The engine: the world and its resources, and what runs it tick by tick.

The world (:mod:`~game.engine.world`), the schedule, the fixed-step loop, pacing, the one-slot
mailbox, events, commands, the mirror's frame types and work beside the loop. It imports no
system: systems import it, and :mod:`game.app` puts them together.
"""
