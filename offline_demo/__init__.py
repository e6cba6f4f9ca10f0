"""The offline demo: a local endpoint, the stack deployed into it, a synthetic video, the launcher, and
pictures of what it found (demo-output/)."""
