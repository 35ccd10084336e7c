"""Evidence files and bundles: the blob store, the export bundle, its report, verification."""
