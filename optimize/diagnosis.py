"""Where a failed match lies: in the search, or in the space it searched.

Given a hidden (true) patch, the starting patch and the fields a search moved,
the **projected truth** is the best the searched space can express: the searched
fields at their true values (clipped to the space's safety limits) and every
other field at the start's value. Comparing losses then splits the blame:

* result > projected truth: the search failed (a better point was in its space);
* projected truth well above the truth: the space cannot express the target
  (fields the search never moves are wrong in the start).
"""

from __future__ import annotations

#: A loss within this factor of the truth's counts as reaching it (3x the replicate floor).
REACHED_FACTOR = 3.0


def projected_truth(truth, start, space, *, extra_keys=()):
    """The start with the space's fields (and ``extra_keys``) set to the truth's values.

    Parameters
    ----------
    truth, start : Patch
        The hidden patch and the starting patch, of the same effect type.
    space : ParameterSpace
        The searched space; its fields take the truth's raw values, clipped to its limits.
    extra_keys : iterable of str
        Fields searched outside the space (e.g. the amp model and cabinet a strategy
        screens); they take the truth's raw values unclipped.
    """
    if truth.effect_type.id != start.effect_type.id:
        raise ValueError(f"the truth is {truth.effect_type.name} but the start is "
                         f"{start.effect_type.name}; project within one effect type")
    patch = space.from_unit(start, space.to_unit(truth))
    for key in extra_keys:
        if key not in space.keys:
            patch.set_raw(key, truth.get_raw(key))
    return patch


def diagnose(*, truth_loss: float, projected_loss: float, result_loss: float,
             factor: float = REACHED_FACTOR) -> str:
    """One word for one case: ``reached``, ``search failed``, ``space too narrow`` or ``both``.

    ``reached``: the result is within ``factor`` of the truth's loss. Otherwise the
    search failed when the projected truth scores better than the result, and the
    space is too narrow when even the projected truth is above ``factor`` x the truth.
    """
    if result_loss <= factor * truth_loss:
        return "reached"
    search_failed = projected_loss < result_loss
    too_narrow = projected_loss > factor * truth_loss
    if search_failed and too_narrow:
        return "both"
    if search_failed:
        return "search failed"
    return "space too narrow"
