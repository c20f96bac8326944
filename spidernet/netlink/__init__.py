"""The only importers of pyroute2 (docs/design.md, "Layering"): link, route, rule and neighbour
work for ifacer and coordinator, errno-aware so that repeated and racing ADDs converge."""
