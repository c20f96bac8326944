"""The ``spiderpool`` IPAM plugin: allocation on SpiderIPPool CRDs (docs/ipam.md)."""
