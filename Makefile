# Interpreting Deep Networks — the two commands a newcomer needs are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.course-installed
NB     ?= 00_black_box

.PHONY: setup lab test unit browser demo html notebooks release grade bench clean-cache

# Create the virtualenv and install the course (editable, with test tools) once; redo when pyproject changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c "import course_utils, torch, otter, nbval" || (echo "installation failed; see pip output above" && exit 1)
	@touch $@

setup: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# Notebooks run first (nbval) so the checkpoint cache is warm when the autograder tests re-run them.
# pytest exits 5 when it collects nothing, and make turns any non-zero exit into a failure.
test: $(STAMP)
	$(PY) -m pytest --nbval-lax --nbval-cell-timeout=600 notebooks tests

unit: $(STAMP)
	$(PY) -m pytest -m "not browser" tests

# End-to-end tests in headless Chromium (tests/browser); they skip where /usr/bin/chromium is missing.
browser: $(STAMP)
	$(PY) -m pytest -m browser tests

# One lecture's widgets and figures as a Voila dashboard, no code: make demo NB=03_occlusion
demo: $(STAMP)
	$(PY) -m course_utils.demo $(NB)

# Execute every lecture and render the static course site into build/site/ (offline).
html: $(STAMP)
	$(PY) -m course_utils.site --out build/site

release: $(STAMP)
	$(PY) -m course_utils.release

# Grade a folder of submissions into grades/: make grade LECTURE=00_black_box SUBMISSIONS=submissions/00
grade: $(STAMP)
	@test -n "$(LECTURE)" -a -n "$(SUBMISSIONS)" || (echo "usage: make grade LECTURE=00_black_box SUBMISSIONS=folder/" && exit 2)
	$(PY) -m course_utils.grade $(LECTURE) $(SUBMISSIONS) --out $${OUT:-grades}

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean-cache:
	rm -rf "$${COURSE_CACHE_DIR:-$$HOME/.cache/interpreting-deep-networks}"
