"""SpiderMultusConfig: a short CR that becomes a whole NetworkAttachmentDefinition (docs/cli.md).

    gojson       JSON encoded as Go's encoding/json encodes it (the NAD's config string)
    nads         the NAD one SpiderMultusConfig renders to (pure)
    reconciling  make the cluster's NADs what the SpiderMultusConfigs say (the I/O)

The same rendering serves ``spiderpoolctl multus render|apply`` and the pass that the GC
CronJob runs every minute, so a CR applied with kubectl and one applied with the CLI
give the same NAD, byte for byte.
"""
