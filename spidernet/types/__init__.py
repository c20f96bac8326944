"""Pure CNI data types: results, version conversion, config field readers. No I/O."""
