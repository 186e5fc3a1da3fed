"""The match, its loss, parameter space and search: from a pair to the best patch.

    match        match(plan, pair, rig) -> MatchResult: the stages (start, effect-type
                 screen, search, residual EQ, never worse) sharing one state
    match_plan   MatchPlan (frozen, checked), ModelBudget (model evaluations, per stage)
    match_stages the start, the evaluator (one take), the type-screen stage, FaultGuard
    match_residual  the residual-EQ stage (fit on the model, one take)
    pairs        load_pair, choose_excerpt, follow_score (reads audio via analyzers.loading)
    constraints  ParameterSpace: the fields of one effect type, the seed's safety limits,
                 normalized 0..1 coordinates snapped to the unit's steps, the seed's steps
    search       Take, SearchResult, Recorder (take budget), run_search (take 0 = the
                 starting patch), the seed's coordinate and grid
    strategy_registry  every strategy in one place; options declared by signature
    strategies   random, seed_coordinate and ours (the default)
    library_strategies  cma and tpe
    loss         SeedLoss, metric_panel, get_loss (the loss registry)
    objective    MatchLoss (level-matched multi-term objective)
    reference    bypass_loss (the dry DI scored like a take), compare_to_bypass (its reading)
    unit_probes  the probe session of a unit profile and its take distance
    unit_profile fit_unit_profile (the model's assumptions fitted to a unit's takes),
                 UnitProfile, load_unit_profile
    virtual_first  search on the model, confirm and refine on the unit (two budgets)

No module here opens a device; the CLI owns devices, progress output and the session
files. The only files read or written here are the two audio files of a pair
(``pairs``) and unit profiles (``UnitProfile.save``, ``load_unit_profile``).
"""
