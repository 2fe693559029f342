# Sourced by ./run and ./run-tests: create or refresh .venv from pyproject.toml.
# The install is redone only when pyproject.toml changed since the last one.
py=${PYTHON:-python3}
stamp=.venv/.pyproject.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv from pyproject.toml…" >&2
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -qq --upgrade pip >&2
  .venv/bin/python -m pip install -qq -e ".[test]" >&2
  echo "$want" > "$stamp"
fi
