"""One module per tick system; ``game.schedule`` writes their order down once."""
