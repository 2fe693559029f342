# Sourced by ./run, ./run-tests and bench/run: create or refresh .venv from pyproject.toml.
# The install is redone only when pyproject.toml changed since the last one, or when
# the extras asked for are not installed yet (bench includes test; test includes dev).
py=${PYTHON:-python3}
extras=${VENV_EXTRAS:-test}
stamp=.venv/.pyproject.sha256
hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
have_hash="" have_extras=""
if [ -f "$stamp" ]; then read -r have_hash have_extras < "$stamp" || true; fi
if [ ! -x .venv/bin/python ] || [ "${have_hash:-}" != "$hash" ] \
   || { [ "$extras" != "${have_extras:-}" ] && [ "${have_extras:-}" != "bench" ]; }; then
  echo "setting up .venv from pyproject.toml ($extras)…" >&2
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -qq --upgrade pip >&2
  .venv/bin/python -m pip install -qq -e ".[$extras]" >&2
  echo "$hash $extras" > "$stamp"
fi
