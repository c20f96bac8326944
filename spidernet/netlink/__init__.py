"""rtnetlink for ifacer and coordinator, through a small codec of our own (``messages``
over ``rtnl``; docs/performance.md says why not pyroute2): links, routes, rules and
neighbours, errno-aware so that repeated and racing ADDs converge."""
