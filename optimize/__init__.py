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

No module here writes files or opens devices (``pairs`` reads the two audio files it
is given); the CLI owns the session files, devices and progress output.
"""
