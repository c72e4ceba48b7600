"""Small utilities shared by every layer: devices, random state, version shims."""
