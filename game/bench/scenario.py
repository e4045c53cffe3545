"""What every bench scenario shares: the shape of its function, its printer and its report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from game.config import Config

#: A scenario's result: plain data, written to the JSON report as it is.
Report = dict[str, Any]
#: Shows one line of what a scenario is doing now (the progress bar's text).
Progress = Callable[[str], None]
#: A scenario: the parsed ``bench`` flags, the run's config and the progress line in; its report
#: out.
Scenario = Callable[[argparse.Namespace, Config, Progress], Report]
#: Prints a scenario's report as a readable table.
Printer = Callable[[Report], None]
