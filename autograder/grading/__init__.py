"""The trusted grading side: pytest plugin, proxies to the worker, runner, checks, seeds,
reports, validation. Student code never runs here (except in the local debug mode)."""
