"""The ``spiderpool`` IPAM plugin: allocation on SpiderIPPool CRDs (SPEC §2)."""
