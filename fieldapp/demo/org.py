"""Demo layer 1: the county, its townships, villages, groups, branches, grids and staff."""


def load_org() -> str:
    return "org layer: not loaded yet"
