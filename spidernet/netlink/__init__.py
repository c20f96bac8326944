"""The only importers of pyroute2 (STYLE.md layering): link, route, rule and neighbour
work for ifacer and coordinator, errno-aware so that repeated and racing ADDs converge."""
