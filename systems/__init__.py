"""One module per tick system; ``game.engine.schedule`` writes their order down once."""
