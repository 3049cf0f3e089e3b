# The two commands of the README: `make run` (console on embedded defaults) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# The suite runs on TEST_WORKERS pytest-xdist workers, each taking tests in pytest-django's order (a transactional
# test empties the tables, seeded rows included: on each worker they run after the others, as in one process), two
# at a time (xdist's default chunks left one worker idle for 22 minutes behind the other's queue of slow tests);
# PYTEST_ARGS adds to it, e.g. PYTEST_ARGS="tests/failover -x"; TEST_PARALLEL= runs it in one process.
TEST_WORKERS ?= 2
TEST_PARALLEL ?= -n $(TEST_WORKERS) --dist load --maxschedchunk 2
PYTEST_ARGS ?=

.PHONY: run test bench venv system-deps lint migrate clean

system-deps:
	@.ci/system-deps.sh

# Debian's python3-libnbd is built for /usr/bin/python3, hence the venv from it with system site packages.
$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	@$(MAKE) --no-print-directory system-deps
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	$(PY) -c "import nbd" || (echo "python3-libnbd is not importable from the venv" >&2; exit 1)
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py ensure_operator
	$(PY) manage.py run_platform

test: venv
	$(PY) -m pytest $(TEST_PARALLEL) $(PYTEST_ARGS)

bench: venv
	$(PY) -m bench.run

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var staticfiles
