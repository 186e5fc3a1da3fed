"""Loss, parameter space and search: everything between a take and the next candidate.

    constraints  ParameterSpace (fields, safety limits, normalized coordinates, steps)
    search       Take, SearchResult, Recorder, STRATEGIES, run_search (coordinate, grid)

No module here does I/O; the CLI owns files, devices and progress output.
"""
