"""Engine loop, world setup, schedule, config, CLI and backend selection."""
