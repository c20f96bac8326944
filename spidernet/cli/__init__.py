"""``spiderpoolctl`` (also ``kubectl spiderpool``): see, check and fix pools (docs/cli.md).

    main        the command line: global flags, one sub-command per verb, exit codes
    failures    why a command stopped, and its exit code (the documented contract)
    tables      kubectl-style tables and ages (pure)
    console     where output goes: tables, JSON/YAML, colour and progress on a TTY only
    loading     objects from YAML/JSON files or stdin, with their line numbers
    connecting  the cluster, found as kubectl finds it; API errors as failures
    usage       a pool's figures: allocated, total, free, cooling (pure)
    holders     who holds an address: pool record, SpiderEndpoint, pod (pure)
    showing     ``pools``, ``ip show``, ``ip list``
    releasing   ``ip release``: the IPAM's own compare-and-swap on the pod UID
    collecting  ``gc``: one pass of the GC CronJob's code
    validating  ``validate``: the admission rules, offline
    networking  ``multus render`` and ``multus apply``
    completion  bash and zsh completion scripts, from the parser

The CLI is not on any pod's start path, so it uses the official ``kubernetes`` client
(``spidernet.k8s.official``) and may import what it likes; the plugins import none of it.
"""
