"""The admission rules for our objects, one implementation for every caller. No I/O.

``spiderpoolctl validate`` runs them offline on files; the admission webhook runs the
same functions on the objects the API server sends (docs/cli.md, docs/ipam.md):

    problems     ``Problem``: a field path and what is wrong with it
    names        Kubernetes names, label selectors, interface names
    ippools      one SpiderIPPool; overlap between pools of a family; what an update may not do
    reservedips  one SpiderReservedIP
    multusconfigs one SpiderMultusConfig (its NAD is rendered and read by our plugins' own
                 config parsers, so a config they would refuse at a pod's ADD is refused here)
    objects      any of the three by ``kind``, and a set of objects together (overlap)

Every rule reports every problem it finds, not only the first, each naming its field.
"""
