# Every target installs what it needs: a fresh clone runs `make demo` or `make test` and nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint unit integration fuzz bench soak events local docs samples clean

# The security gate's tools live in a virtualenv of their own: checkov pins boto3, urllib3 and
# networkx to versions the project's own environment must not be forced onto.
TOOLS ?= .venv-tools
CHECKOV_VERSION := 3.3.30
BANDIT_VERSION := 1.9.4
TOOLS_STAMP := $(TOOLS)/.installed-checkov-$(CHECKOV_VERSION)-bandit-$(BANDIT_VERSION)

# Each bootstrap holds a lock on its virtualenv, so that two makes at once on a fresh clone (two
# `make demo`, a test beside a demo) build it once: the second waits, then finds the stamp. The lock
# is Python's flock, not flock(1), which macOS lacks; the command runs holding it (inherited).
LOCKED = $(PYTHON) -c 'import fcntl, os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); \
    lock = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); fcntl.flock(lock, fcntl.LOCK_EX); \
    os.set_inheritable(lock, True); os.execvp(sys.argv[2], sys.argv[2:])'

$(STAMP): pyproject.toml
	mkdir -p $(VENV)
	$(LOCKED) $(VENV)/.bootstrap.lock sh -ec '\
	    test -f $@ && exit 0; \
	    test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	    $(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip; \
	    $(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"; \
	    rm -f $(VENV)/.installed-*; \
	    touch $@'

$(TOOLS_STAMP):
	mkdir -p $(TOOLS)
	$(LOCKED) $(TOOLS)/.bootstrap.lock sh -ec '\
	    test -f $@ && exit 0; \
	    test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS); \
	    $(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
	        "checkov==$(CHECKOV_VERSION)" "bandit==$(BANDIT_VERSION)"; \
	    rm -f $(TOOLS)/.installed-*; \
	    touch $@'

demo: $(STAMP)
	$(BIN)/transcoder-status demo $(ARGS)

local: $(STAMP)
	$(BIN)/transcoder-status local $(ARGS)

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	$(BIN)/cfn-lint forwarder/template.yaml
	$(BIN)/python -m transcoder_status.local.template template.yaml
	$(TOOLS)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
	$(TOOLS)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f forwarder/template.yaml
	$(TOOLS)/bin/bandit --quiet --recursive src
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(SITE)

# The documentation site (docs/, mkdocs.yml) in site/; `make lint` builds it strictly, so a broken
# link, anchor or API reference fails.
SITE ?= site
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(SITE)

# The samples of output the docs include (docs/samples/), regenerated from the commands themselves.
samples: $(STAMP)
	$(BIN)/python docs/samples/generate.py

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

# The fuzz tests of `make test` with 100 times the examples (the hypothesis profile "fuzz"); each test
# prints its figures at the end. About 27 minutes here on 2 cores.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -n 2 tests/fuzz $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# The pipeline under load, end to end on the local stack; FAULTS=dynamodb,sqs,kill,restart (or all)
# adds faults. Each run's figures replace its row in bench/soak.md.
NOTIFICATIONS ?= 10000
JOBS ?= 1000
FAULTS ?=
soak: $(STAMP)
	$(BIN)/python -m bench.soak --notifications $(NOTIFICATIONS) --jobs $(JOBS) --faults '$(FAULTS)' \
	    --report bench/soak.md $(ARGS)

events: $(STAMP)
	$(BIN)/python -m transcoder_status.local.sample_events events

clean:
	rm -rf $(VENV) $(TOOLS) $(SITE) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
