"""Planning, pure (no I/O, no clock: `now` is passed in): the plan of changes, active keys,
rotation, pruning, drift, what changed in the tenant, the plan file, and the JSON-safe data
form that plan files and `--format json` share."""
