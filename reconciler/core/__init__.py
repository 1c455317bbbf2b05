"""The core: frozen value types (desired and live state, the plan, apply's report), located
diagnostics, our error tree, and the files shipped beside the code. Imports nothing else of
ours, and no I/O library."""
