# Test stub: only its existence matters to the manifest loader.
