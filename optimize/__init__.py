"""Loss, parameter space and search: everything between a take and the next candidate.

    constraints  ParameterSpace: the fields of one effect type, the seed's safety limits,
                 normalized 0..1 coordinates snapped to the unit's steps, the seed's steps
    search       Take, SearchResult, Recorder (take budget), the strategy registry,
                 run_search (take 0 = the starting patch), the seed's coordinate and grid
    strategies   random, seed_coordinate and ours (the default), registered on first use
    loss         SeedLoss, metric_panel, get_loss (the loss registry)
    objective    MatchLoss (level-matched multi-term objective)
    reference    bypass_loss (the dry DI scored like a take), compare_to_bypass (its reading)
    unit_probes  the probe session of a unit profile and its take distance
    unit_profile fit_unit_profile (the model's assumptions fitted to a unit's takes),
                 UnitProfile, load_unit_profile
    virtual_first  search on the model, confirm and refine on the unit (two budgets)

No module here opens a device; the CLI owns devices and progress output. The only files
read or written here are unit profiles (``UnitProfile.save``, ``load_unit_profile``).
"""
