# Sourced by ./run, ./run-tests and bench/run: create or refresh .venv from pyproject.toml.
# The install is redone only when pyproject.toml (or the extras asked for) changed since the last one.
py=${PYTHON:-python3}
extras=${VENV_EXTRAS:-test}
stamp=.venv/.pyproject.sha256
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv from pyproject.toml ($extras)…" >&2
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -qq --upgrade pip >&2
  .venv/bin/python -m pip install -qq -e ".[$extras]" >&2
  echo "$want" > "$stamp"
fi
