# Build, check and run the ACD: a Rust workspace (acd_core/core: the pure router, and
# acd_core/binding: the thin pyo3 layer) plus the Python package `acd` (python/acd), whose
# native module acd._core is built by maturin.
#
# Everything Python runs from ./.venv, which this Makefile creates and fills, so a fresh clone
# needs only python3, cargo and make. `make test` is exactly what CI runs (.ci/run).
# Tools are called by path (.venv/bin/...) so nothing depends on an activated shell.

SHELL := bash
# -e: stop a multi-line recipe at the first failing command; pipefail: a failing command
# piped into another still fails the step.
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help
# A recipe that fails half way must not leave a fresh-looking stamp behind.
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEEDS ?= 10000
CYCLES ?= 20
FUZZ_SECONDS ?= 60

export PIP_DISABLE_PIP_VERSION_CHECK := 1

# In CI a Cargo.lock that cargo would have to update is a bug (a dependency added without
# committing the lock file), so cargo must refuse there; locally it may update it freely.
CARGO_LOCKED := $(if $(CI),--locked)

# Debian's apt needs root; CI runs as root, a developer machine goes through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# Python directories to check. git keeps no empty directories, so tests/ and bench/ can be
# missing in a clone (ruff fails on a missing path), and mypy refuses a directory with no
# Python file in it: pass only the ones that exist / hold Python files. Once all exist this
# is the same list as pyproject's [tool.mypy] files.
PY_DIRS = $(wildcard python tests bench)
MYPY_PATHS = $(foreach d,python/acd tests bench,$(if $(shell find $(d) -name '*.py' -o -name '*.pyi' 2>/dev/null | head -n 1),$(d)))

# Everything that can change the native module. `maturin develop` always repackages and
# reinstalls (seconds even when cargo has nothing to do), so it only runs when one of these
# is newer than the last build; cargo's own incremental build does the rest.
NATIVE_INPUTS = Cargo.toml Cargo.lock pyproject.toml $(shell find acd_core -type f -not -name '*.md')
# ... or when the built module is gone from the source tree (e.g. after `git clean`).
NATIVE_MODULE = $(wildcard python/acd/_core*.so)

# Stamps live inside .venv, so deleting the venv also forgets what was installed into it.
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := $(VENV)/.native-built

.PHONY: help test lint lint-rust lint-python test-rust stubtest test-python \
	build run demo simulate figures bench bench-service bench-budget bench-overload soak sim-soak crash-test fuzz fmt clean \
	protos protos-check

help:
	@echo 'make test      full CI run: lint, cargo test, build, stub check, pytest'
	@echo 'make lint      static checks only: rustfmt, clippy, ruff, mypy, protos-check'
	@echo 'make protos    regenerate python/acd/v1 from proto/acd/v1 (commit the result)'
	@echo 'make protos-check  buf lint + fail if the committed generated code is stale'
	@echo 'make fmt       rewrite Rust and Python sources in the house format'
	@echo 'make build     create .venv and build acd._core into it (release)'
	@echo 'make run       start the gRPC service with the bundled dev config (prints demo tokens)'
	@echo 'make demo      calls of the sample day flowing through the service `make run` started'
	@echo 'make simulate  simulate a store day with the CLI'
	@echo 'make figures   the README report charts: a week of calls through the service, then acd report --png'
	@echo 'make bench     Python core-vs-reference comparison and cargo bench'
	@echo 'make bench-service  the gRPC service against a bare echo server (quick run)'
	@echo 'make bench-budget   where the time of the service goes: one part replaced at a time (quick)'
	@echo 'make soak      fault simulation of the core (crashes, lost journal tails, races), SEEDS=$(SEEDS) seeds'
	@echo 'make crash-test  kill acd serve under traffic CYCLES=$(CYCLES) times: nothing lost or doubled'
	@echo 'make fuzz      atheris on the config loader and every RPC, FUZZ_SECONDS=$(FUZZ_SECONDS) per target'
	@echo 'make bench-overload  50 queue-stats subscribers that never read under 100,000 stat updates'
	@echo 'make clean     remove .venv, target/ and every cache (back to a fresh clone)'

# --- environment -------------------------------------------------------------------------

# The venv counts as made once pip is in it: without Debian's python3-venv package (which
# carries ensurepip) `python3 -m venv` leaves a venv with no pip, and this must run again.
$(BIN)/pip:
	if ! $(PYTHON) -c 'import ensurepip' 2>/dev/null; then \
		$(SUDO) apt-get update; \
		$(SUDO) apt-get install -y --no-install-recommends python3-venv; \
	fi
	$(PYTHON) -m venv $(VENV)

# The PNG charts (acd report --png, make figures, their tests) set every label in DejaVu Sans
# (python/acd/report_png.py): a machine without it gets Debian's package, as with python3-venv
# above. Elsewhere (no apt-get) a note says what to install, and the rest still builds.
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
$(DEJAVU):
	if command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update; \
		$(SUDO) apt-get install -y --no-install-recommends fonts-dejavu-core; \
	else \
		echo 'note: install the DejaVu Sans font for `acd report --png`' >&2; \
	fi

# acd._core links the system's SQLite, the library Python's sqlite3 loads (one copy of SQLite
# in the process: acd_core/binding/src/transactions.rs); linking needs Debian's -dev package.
SQLITE_DEV := /usr/include/sqlite3.h
$(SQLITE_DEV):
	if command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update; \
		$(SUDO) apt-get install -y --no-install-recommends libsqlite3-dev; \
	else \
		echo 'note: install SQLite 3 development files (the library acd._core links)' >&2; \
	fi

# Pins live in one place, pyproject.toml ([project] dependencies + the `dev` extra). They are
# installed directly instead of via `pip install -e .[dev]`, which would also compile the
# Rust extension (in debug mode) just to get the tools.
$(DEPS_STAMP): pyproject.toml $(BIN)/pip | $(DEJAVU)
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(*p["dependencies"], *p["optional-dependencies"]["dev"], sep="\n")' > $(VENV)/requirements-dev.txt
	$(BIN)/pip install -r $(VENV)/requirements-dev.txt
	touch $@

# maturin builds in ./target (release profile), drops acd/_core*.so next to the Python sources
# and installs `acd` into the venv as an editable package, so Python edits need no rebuild.
# VIRTUAL_ENV tells maturin which environment to install into without activating it.
# A module left by an earlier build of another kind (abi3's _core.abi3.so) is removed first:
# Python would load whichever of the two its suffix order finds first.
$(BUILD_STAMP): $(DEPS_STAMP) $(NATIVE_INPUTS) $(if $(NATIVE_MODULE),,FORCE) | $(SQLITE_DEV)
	rm -f python/acd/_core*.so
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --release $(CARGO_LOCKED)
	touch $@

build: $(BUILD_STAMP)

FORCE:

# --- checks ------------------------------------------------------------------------------

# Cheap static checks first so that a formatting slip fails in seconds, not after a build.
test: lint test-rust stubtest test-python

lint: lint-rust lint-python protos-check

lint-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets $(CARGO_LOCKED) -- -D warnings

# mypy reads the native module's types from python/acd/_core.pyi, so this needs no build.
lint-python: $(DEPS_STAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/mypy $(MYPY_PATHS)

# The binding crate is left out: its test binary links against libpython, which a machine
# with only Debian's python3 (no libpython3-dev) does not have. The core is pure Rust and
# `cargo test` must not need Python; the binding is exercised through pytest instead.
# clippy (above) still checks the binding, it does not link.
# Two passes: debug (overflow checks and debug assertions on; the fault simulation with
# 50 seeds x 2,500 events) and the fault simulation in release, 200 seeds x 10,000 events
# (crashes, lost journal tails, adversarial timings; invariants after every step), which
# debug would take minutes for; it prints its summary line (seeds, events, faults by kind).
test-rust:
	ACD_SIM_SEEDS=50 cargo test --workspace --exclude acd-binding $(CARGO_LOCKED)
	cargo test --release -p acd-core --test invariants $(CARGO_LOCKED) -- --nocapture

# The stub is the binding's documented contract: check it against the module actually built.
stubtest: $(BUILD_STAMP)
	$(BIN)/python -m mypy.stubtest acd._core --allowlist .ci/stubtest-allowlist.txt

# pytest exits 5 when it collected no tests (tests/ empty or absent early on), which is not a
# failure; every other non-zero exit is.
test-python: $(BUILD_STAMP)
	@if [ ! -d tests ]; then echo 'pytest: no tests/ directory, nothing to run'; exit 0; fi; \
	echo '$(BIN)/pytest'; \
	rc=0; $(BIN)/pytest || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo 'pytest: no tests collected (exit 5), not a failure'; exit 0; fi; \
	exit $$rc

# --- gRPC contract (proto/acd/v1 -> python/acd/v1) --------------------------------------

# The generated code is committed, so it must come from exactly these inputs: the .proto files
# and the pinned grpcio-tools (protoc) and mypy-protobuf. The plugins are named by path, so no
# activated venv is needed; `quiet` keeps mypy-protobuf from listing every file it writes.
PROTOS = $(sort $(wildcard proto/acd/v1/*.proto))
PROTOC = $(BIN)/python -m grpc_tools.protoc -Iproto \
	--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
	--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc
protoc_out = --python_out=$(1) --grpc_python_out=$(1) --mypy_out=quiet:$(1) --mypy_grpc_out=quiet:$(1)

# Old outputs go first so that a deleted or renamed .proto leaves no module behind;
# python/acd/v1/__init__.py is hand-written and kept. buf reads proto/buf.yaml (no deps, no network).
protos: $(DEPS_STAMP)
	$(BIN)/buf lint proto
	rm -f python/acd/v1/*_pb2.py python/acd/v1/*_pb2.pyi python/acd/v1/*_pb2_grpc.py python/acd/v1/*_pb2_grpc.pyi
	$(PROTOC) $(call protoc_out,python) $(PROTOS)

# Regenerates into a scratch directory and compares: a .proto edited without `make protos`,
# a hand-edited generated file, or a stale module of a deleted .proto all fail here.
protos-check: $(DEPS_STAMP)
	$(BIN)/buf lint proto
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PROTOC) $(call protoc_out,$$tmp) $(PROTOS); \
	if ! diff -ru -x __init__.py -x __pycache__ "$$tmp/acd/v1" python/acd/v1; then \
		echo 'protos-check: python/acd/v1 is not what proto/acd/v1 generates; run `make protos` and commit it' >&2; \
		exit 1; \
	fi; \
	echo 'protos-check: generated code is up to date'

# --- running -----------------------------------------------------------------------------

# The service with the bundled dev config: loopback only, demo tokens printed, data in ./data.
# Ctrl-C shuts it down gracefully. `make simulate` is the simulated store day.
run: $(BUILD_STAMP)
	$(BIN)/acd serve

# Plays an hour of the sample day (speeded up: about 30 s) against the service `make run`
# started, with the dev config's address and demo tokens; a live line a second, then a summary.
demo: $(BUILD_STAMP)
	$(BIN)/acd demo

simulate: $(BUILD_STAMP)
	$(BIN)/acd simulate --day python/acd/data/store_day.csv

# The README's report charts (tests/figures/heatmap.png, volume_and_sl.png): a week of the sample
# store day's callers through an in-process service on a clock the script sets, then
# `acd report ... --png` (tests/report_figures.py; a minute or two; same seed, same pixels).
figures: $(BUILD_STAMP)
	$(BIN)/python tests/report_figures.py

bench: $(BUILD_STAMP)
	$(BIN)/python bench/core_vs_reference.py
	$(BIN)/pytest bench -q --benchmark-only --benchmark-columns=mean,median,ops
	cargo bench -p acd-core --bench routing $(CARGO_LOCKED)

# Starts `acd serve` and a bare grpc.aio echo server on loopback and drives both from one
# client process; the last line is a JSON object (README, Benchmarks).
bench-service: $(BUILD_STAMP)
	$(BIN)/python bench/service_vs_echo.py --quick

# bench-service's unary, lifecycle and batch phases for the service with one part replaced
# (bench/service_variant.py: an empty handler, a commit-only handler, a journal that costs
# nothing) beside the real one, in one run; the last line is a JSON object (README).
bench-budget: $(BUILD_STAMP)
	$(BIN)/python bench/service_budget.py --quick

# The fault simulation of the core, SEEDS seeds of 10,000 events each (tests/RELIABILITY.md).
# Pure Rust, no venv needed; release mode because thousands of seeds are slow in debug. A
# progress line every 1,000 seeds, then one summary line: `soak: seeds N, events N, ...,
# crashes N, tail losses N, ..., violations N`; fails on any violation, naming each failing
# seed and the command that replays it. sim-soak is its old name.
soak:
	ACD_SIM_SEEDS=$(SEEDS) ACD_SIM_LABEL=soak cargo test --release -p acd-core --test invariants $(CARGO_LOCKED) -- --nocapture random_simulations

sim-soak: soak

# Kills `acd serve` with SIGKILL under traffic, CYCLES times, restarting it on the same data dir
# each time (tests/crash_driver.py; `make test` runs 3 cycles of it). Prints the seed and one
# summary line: cycles, acknowledged calls, lost, duplicated; fails on any loss or duplicate.
crash-test: $(BUILD_STAMP)
	$(BIN)/python tests/crash_driver.py --cycles $(CYCLES)

# Coverage-guided fuzzing (atheris/libFuzzer) of the config loader and of every RPC of acd.v1
# against an in-process server (tests/fuzz/fuzz_run.py), FUZZ_SECONDS per target. Prints
# executions, coverage and findings per target; fails on any finding, keeping its input.
fuzz: $(BUILD_STAMP)
	$(BIN)/python tests/fuzz/fuzz_run.py --seconds $(FUZZ_SECONDS)

# The service in a subprocess, 50 StreamQueueStats subscribers that never read, 100,000 stat
# updates from enqueue/cancel bursts, an agent desktop taking offers meanwhile: RSS growth,
# updates coalesced for the slow readers, offer latency p99; the last line is a JSON object.
bench-overload: $(BUILD_STAMP)
	$(BIN)/python bench/overload_slow_consumers.py

# --- housekeeping ------------------------------------------------------------------------

# `ruff check --fix` before `ruff format`: a fix (e.g. sorted imports) may need reformatting.
fmt: $(DEPS_STAMP)
	cargo fmt --all
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

clean:
	cargo clean
	rm -rf $(VENV) python/acd/_core*.so .pytest_cache .mypy_cache .ruff_cache .benchmarks dist
	find python tests bench -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
