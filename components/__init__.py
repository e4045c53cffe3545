"""Plain component dataclasses: data only, no behaviour. Systems in ``systems/`` act on them."""
