"""The web mirror: an aiohttp server that shows a run to browsers without slowing its tick."""
