"""What several test modules share, by topic; test modules import from here, never from each other.

- `cli`: running `main` in-process and reading the emulator's requests and key sets;
- `graph`: out-of-band Graph changes (another tool or a person);
- `model`: model objects for the pure tables (desired and live keys, a fixed `now`);
- `golden`: the golden-file check and the starter plan the renderers are checked with;
- `certkit`: test certificates and PKCS#12 files.

Fixtures (`emu`, `env`, ...) live in `tests/conftest.py`.
"""
