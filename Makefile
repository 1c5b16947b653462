# The compendium's commands. `make` (= `make reproduce`) runs every notebook at PROFILE=quick;
# `make test` runs the test suite. Both set up .venv first when requirements change.
PROFILE ?= quick
DEVICE  ?= cpu
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
LIB     := $(wildcard lib/symflow/*.py lib/symflow/*/*.py)
RUN     := $(PY) -m symflow.runner

.DEFAULT_GOAL := reproduce
.PHONY: setup reproduce evidence status report test format lab clean help
.SECONDEXPANSION:

setup: $(STAMP) ## create .venv and install requirements.txt and the library (reruns when they change)

# Rebuilt only when the requirements or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name symflow --display-name "Python (symflow)"
	touch $@

# One rule per notebook: results/<nb>/<profile>/<nb>.ipynb is rebuilt when the notebook, the
# library or the notebook's declared inputs change. Inputs are declared anywhere in this file as
# `DEPS_<nb> := ...` (read after the whole file, thanks to .SECONDEXPANSION).
NOTEBOOKS := $(sort $(basename $(notdir $(wildcard notebooks/[0-9][0-9]_*.ipynb))))
EXECUTED  := $(foreach nb,$(NOTEBOOKS),results/$(nb)/$(PROFILE)/$(nb).ipynb)
executed   = results/$(1)/$(PROFILE)/$(1).ipynb

# THREADS: torch threads per run, the cores shared out among the JOBS runs that make runs at a time
# (more threads than cores makes torch's CPU kernels many times slower).
JOBS    ?= 1
THREADS ?= $(shell n=$$(( $$(nproc) / $(JOBS) )); echo $$(( n > 0 ? n : 1 )))

define notebook_rule
results/$(1)/$(PROFILE)/$(1).ipynb: notebooks/$(1).ipynb $(STAMP) $(LIB) $$$$(DEPS_$(1))
	OMP_NUM_THREADS=$(THREADS) $(RUN) $(1) --profile $(PROFILE) --device $(DEVICE)
endef
$(foreach nb,$(NOTEBOOKS),$(eval $(call notebook_rule,$(nb))))

# Extra seeds for the acceptance checks, part of `reproduce` (notebooks 03, 05, 06 and 07 read every
# seed), independent of each other and of seed 0, the default run. Notebook 04: one run per seed (tag
# seed<k>). Notebook 02: one run per seed and equation (tag seed<k>_<Eq>), so that make packs them on
# the cores and notebooks 03 and 07 wait only for the equations they read. PDE_EQUATIONS: the
# profile's equations of notebook 02, read from symflow.profiles without the venv.
EVIDENCE_NOTEBOOKS ?= $(filter $(NOTEBOOKS),02_pde_symmetries 04_image_symmetries)
EVIDENCE_SEEDS     ?= 1 2
EVIDENCE_THREADS   ?= $(THREADS)
profile_list = $(shell $(PYTHON) lib/symflow/profiles.py $(PROFILE) $(1) $(2))
PDE_EQUATIONS := $(call profile_list,pde_symmetries,equations)
# the tags of notebook $(1)'s seed runs, and of its seed runs for the equations $(2) (notebook 02 only)
seed_tags = $(foreach s,$(EVIDENCE_SEEDS),$(if $(filter 02_pde_symmetries,$(1)),$(foreach e,$(2),seed$(s)_$(e)),seed$(s)))
seed_runs = $(foreach t,$(call seed_tags,$(1),$(or $(2),$(PDE_EQUATIONS))),results/$(1)/$(PROFILE)/$(1)_$(t).ipynb)
EVIDENCE := $(foreach nb,$(EVIDENCE_NOTEBOOKS),$(call seed_runs,$(nb)))
SEED_RUNS := $(EVIDENCE)

# Extra settings of a notebook's evidence runs, merged into its overrides beside the seed (none: notebook
# 02's acceptance checks use 3 seeds of every equation).
EVIDENCE_OVERRIDES_02_pde_symmetries ?=

# The runner's arguments of notebook $(1)'s run tagged $(2) (seed<k> or seed<k>_<Eq>; FULL_03_ARGS:
# notebook 03's full sweep), used by the rules and printed by `make evidence-list`; tests/test_sweep.py
# checks that this list is the one symflow.sweep.evidence_runs gives the Dask path (SCHEDULER=...).
tag_seed = $(patsubst seed%,%,$(firstword $(subst _, ,$(1))))
tag_equation = $(word 2,$(subst _, ,$(1)))
evidence_args = $(1) --profile $(PROFILE) --device $(DEVICE) --tag $(2) -p 'overrides={"seed": $(call tag_seed,$(2))$(if $(call tag_equation,$(2)),$(comma) "equations": ["$(call tag_equation,$(2))"])$(EVIDENCE_OVERRIDES_$(1))}'
comma := ,

define evidence_rule
results/$(1)/$(PROFILE)/$(1)_$(2).ipynb: notebooks/$(1).ipynb $(STAMP) $(LIB) $$$$(filter-out $$$$(PDE_SEED0_RUNS),$$$$(DEPS_$(1)))
	OMP_NUM_THREADS=$(EVIDENCE_THREADS) $(RUN) $(call evidence_args,$(1),$(2))
endef
$(foreach nb,$(EVIDENCE_NOTEBOOKS),$(foreach t,$(call seed_tags,$(nb),$(PDE_EQUATIONS)),$(eval $(call evidence_rule,$(nb),$(t)))))

# Notebook 02's seed 0 runs one equation at a time as well (tag seed0_<Eq>), before its default run: that run
# depends on them and reuses their judged runs (pde_learning's run records: same settings, library and
# data), so it only gathers them into one notebook, and notebooks 03 and 07 wait only for their equations.
PDE_SEED0_TAGS := $(if $(filter 02_pde_symmetries,$(EVIDENCE_NOTEBOOKS)),$(foreach e,$(PDE_EQUATIONS),seed0_$(e)))
PDE_SEED0_RUNS := $(foreach t,$(PDE_SEED0_TAGS),results/02_pde_symmetries/$(PROFILE)/02_pde_symmetries_$(t).ipynb)
$(foreach t,$(PDE_SEED0_TAGS),$(eval $(call evidence_rule,02_pde_symmetries,$(t))))

# Notebook 02 with six generators, twice the exact symmetries of KdV, KS and Burgers, in its own
# subfolder: notebook 06 counts each equation's symmetries from it when it is there.
COUNT_02_ARGS = 02_pde_symmetries --profile $(PROFILE) --device $(DEVICE) --tag generators6 -p subfolder=generators6 \
                -p 'overrides={"learn": {"n_generators": 6}}'
COUNT_02 := $(if $(filter 02_pde_symmetries,$(EVIDENCE_NOTEBOOKS)),results/02_pde_symmetries/$(PROFILE)/02_pde_symmetries_generators6.ipynb)
EVIDENCE += $(COUNT_02)
results/02_pde_symmetries/$(PROFILE)/02_pde_symmetries_generators6.ipynb: $(call executed,02_pde_symmetries)
	OMP_NUM_THREADS=$(EVIDENCE_THREADS) $(RUN) $(COUNT_02_ARGS)

# Notebook 03's full sweep: more equations and sizes, and the secondary experiments (single-time
# targets, cKdV's exact vs approximate symmetries, sinc vs bilinear resampling), in its own subfolder.
FULL_03 := {"equations": ["KdV", "KS", "Burgers"], "sizes": [32, 128, 512], "curve_sizes": [], \
            "single_time": {"equations": ["nKdV", "cKdV"]}, "ckdv": {"sizes": [32, 128]}, \
            "ablation": {"sizes": [32, 128]}}
FULL_03_ARGS = 03_pde_augmentation --profile $(PROFILE) --device $(DEVICE) --tag full -p subfolder=full -p 'overrides=$(FULL_03)'
EVIDENCE += $(if $(filter 03_pde_augmentation,$(NOTEBOOKS)),results/03_pde_augmentation/$(PROFILE)/03_pde_augmentation_full.ipynb)
results/03_pde_augmentation/$(PROFILE)/03_pde_augmentation_full.ipynb: $(call executed,03_pde_augmentation) \
		$(call learned_02_of,KdV KS Burgers)
	OMP_NUM_THREADS=$(EVIDENCE_THREADS) $(RUN) $(FULL_03_ARGS)

.PHONY: evidence-list
evidence-list: ## print the runner arguments of each evidence run, one run a line
	@:$(foreach nb,$(EVIDENCE_NOTEBOOKS),$(foreach t,$(call seed_tags,$(nb),$(PDE_EQUATIONS)),$(info $(call evidence_args,$(nb),$(t)))))
	@:$(if $(COUNT_02),$(info $(COUNT_02_ARGS)))
	@:$(if $(filter 03_pde_augmentation,$(NOTEBOOKS)),$(info $(FULL_03_ARGS)))

# SCHEDULER=local runs the evidence runs as tasks of a local Dask cluster (python -m symflow.sweep:
# one single-threaded worker per core, or JOBS workers when JOBS is given); SCHEDULER=tcp://host:port
# sends them to a running Dask scheduler. Runs already newer than their notebook's default run are
# skipped, as by make. The Dask path takes its seed settings from symflow.sweep, not from
# EVIDENCE_OVERRIDES_<nb>. (The sweep has a line of its own, without $(MAKE), so that `make -n` only
# prints it.)
SCHEDULER ?=
SWEEP = $(PY) -m symflow.sweep --profile $(PROFILE) --device $(DEVICE) \
        --notebooks $(EVIDENCE_NOTEBOOKS) $(filter 03_pde_augmentation,$(NOTEBOOKS)) --seeds $(EVIDENCE_SEEDS) \
        $(if $(filter-out local,$(SCHEDULER)),--scheduler $(SCHEDULER),$(if $(filter command line,$(origin JOBS)),--workers $(JOBS))) \
        $(if $(filter command line,$(origin EVIDENCE_THREADS)),--threads $(EVIDENCE_THREADS))

# `reproduce` runs REPRODUCE_JOBS runs at a time (default: one per core), each at THREADS threads.
REPRODUCE_JOBS ?= $(shell nproc)
.PHONY: runs

reproduce: $(STAMP) ## run every notebook at PROFILE (default quick), seeds 1-2 of notebooks 02 and 04 included, REPRODUCE_JOBS at a time, and rebuild results/README.md
	$(MAKE) --no-print-directory -j$(REPRODUCE_JOBS) JOBS=$(REPRODUCE_JOBS) ORDERED=1 runs
	$(PY) -m symflow.report --profile $(PROFILE)

evidence: reproduce ## runs that are not committed: notebook 02 with six generators and notebook 03's full sweep (JOBS=2 for two at a time; SCHEDULER=local or tcp://host:port on Dask)
	$(if $(SCHEDULER),$(SWEEP))
	$(if $(SCHEDULER),,$(if $(EVIDENCE),$(MAKE) -j$(JOBS) $(EVIDENCE)))
	$(PY) -m symflow.report --profile $(PROFILE)

status: $(STAMP) ## list each committed run of PROFILE as current or stale against HEAD and its inputs, with the reason
	$(PY) -m symflow.status --profile $(PROFILE)

report: $(STAMP) ## rewrite results/README.md from the results present
	$(PY) -m symflow.report --profile $(PROFILE)

LINTED := lib tests bench examples

# Test processes (pytest-xdist; each test file runs whole, in order, in one of them), one torch thread each.
TEST_JOBS ?= 2

test: $(STAMP) ## lint and format check (ruff), then the test suite (unit tests and every notebook at smoke) in TEST_JOBS processes
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_JOBS) --dist loadfile

format: $(STAMP) ## apply ruff's import order and formatting to the Python files
	$(VENV)/bin/ruff check --select I --fix $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)

lab: $(STAMP) ## JupyterLab in the venv
	$(VENV)/bin/jupyter lab --notebook-dir=.

# The results as a static website (Sphinx + myst-nb, configuration in docs/site/): results/README.md
# and PROFILE's executed notebooks, rendered as saved (not executed again), into build/site/.
.PHONY: site
site: $(STAMP) ## static site of results/README.md and PROFILE's executed notebooks in build/site/ (not re-run)
	$(PY) -m symflow.site --profile $(PROFILE)

clean: ## remove PROFILE's generated data and results
	rm -rf data/$(PROFILE) $(foreach nb,$(NOTEBOOKS),results/$(nb)/$(PROFILE) results/$(nb)/$(PROFILE).*partial)

# PDE data (symflow.pde.solvers, notebook 01): data/$(PROFILE)/<Equation>_<split>.nc for the five
# equations and the splits train, valid, test. Files whose attributes match are reused; a file
# generated with other parameters stops the run (delete it). The stamp records a complete set.
PDE_DATA := data/$(PROFILE)/.complete
.PHONY: data bench-solvers bench-iterations
data: $(PDE_DATA) ## the PDE data sets of PROFILE, data/<profile>/<Equation>_<split>.nc
$(PDE_DATA): $(STAMP) lib/symflow/pde/pdes.py lib/symflow/pde/solvers.py lib/symflow/profiles.py
	$(PY) -m symflow.pde.solvers --profile $(PROFILE) --device $(DEVICE)
	touch $@
DEPS_01_pde_data := $(PDE_DATA)

# Solver accuracy and speed against dopri5 (the authors' approach): results/bench/solvers.json.
bench-solvers: $(STAMP) ## solver accuracy and speed against dopri5: results/bench/solvers.json
	$(PY) bench/bench_solvers.py --device $(DEVICE)

# Seconds per iteration of each training loop (notebooks 02-05) at PROFILE on DEVICE, and the projected
# time of the profile's schedule: results/bench/iterations_<profile>_<device>.json (no data sets needed).
bench-iterations: $(STAMP) ## seconds per iteration of every training loop at PROFILE on DEVICE
	$(PY) bench/bench_iterations.py --profile $(PROFILE) --device $(DEVICE)

# notebook 05 augments with the fields and inner product that notebook 04 learned (every seed)
DEPS_05_image_augmentation := $(call executed,04_image_symmetries) $(call seed_runs,04_image_symmetries)

# notebook 02 learns on the PDE data sets of notebook 01 / make data; its default run gathers its seed-0 runs
DEPS_02_pde_symmetries := $(PDE_DATA) $(PDE_SEED0_RUNS)

# notebook 03 trains neural solvers on the PDE data, augmented with notebook 02's learned generators
# (every seed) of the equations it trains on
LEARNED_02 := $(call executed,02_pde_symmetries) $(call seed_runs,02_pde_symmetries)
learned_02_of = $(or $(filter $(foreach e,$(1),%_seed0_$(e).ipynb),$(PDE_SEED0_RUNS)),$(call executed,02_pde_symmetries)) \
	$(call seed_runs,02_pde_symmetries,$(filter $(PDE_EQUATIONS),$(1)))
DEPS_03_pde_augmentation := $(PDE_DATA) $(call learned_02_of,$(call profile_list,pde_augmentation,equations))

# notebook 06 reads the generators of notebooks 02 and 04 (every seed)
DEPS_06_generator_algebra := $(LEARNED_02) $(call executed,04_image_symmetries) $(call seed_runs,04_image_symmetries)

# notebook 07 compares symmetry detectors on the PDE data, notebook 02's learned generators among them.
# Its FNO augmentation with each detector's fields (notebook 03's machinery) runs as one tagged run per
# equation of DETECTOR_AUGMENTATION (tag augmentation_<Eq>, in that subfolder; each a few minutes per
# arm; augmentation_only: the augmentation alone, no detector sweep), part of `reproduce`, after notebook 03,
# whose none and known runs they reuse when they can; the default run gathers their tables into augmentation.csv.
DETECTOR_AUGMENTATION ?= $(filter $(PDE_EQUATIONS),KdV KS)
detector_augmentation_args = 07_detector_benchmark --profile $(PROFILE) --device $(DEVICE) --tag augmentation_$(1) \
	-p subfolder=augmentation_$(1) -p augmentation_only=True \
	-p 'overrides={"equations": ["$(1)"], "augmentation": {"equations": ["$(1)"]}}'
DETECTOR_AUGMENTATION_RUNS := $(foreach e,$(DETECTOR_AUGMENTATION),results/07_detector_benchmark/$(PROFILE)/07_detector_benchmark_augmentation_$(e).ipynb)
SEED_RUNS += $(DETECTOR_AUGMENTATION_RUNS)
define detector_augmentation_rule
results/07_detector_benchmark/$(PROFILE)/07_detector_benchmark_augmentation_$(1).ipynb: notebooks/07_detector_benchmark.ipynb \
		$(STAMP) $(LIB) $(PDE_DATA) $(call learned_02_of,$(1)) $(filter $(call executed,03_pde_augmentation),$(EXECUTED))
	OMP_NUM_THREADS=$(EVIDENCE_THREADS) $(RUN) $(call detector_augmentation_args,$(1))
endef
$(foreach e,$(DETECTOR_AUGMENTATION),$(eval $(call detector_augmentation_rule,$(e))))
DEPS_07_detector_benchmark := $(PDE_DATA) $(LEARNED_02) $(DETECTOR_AUGMENTATION_RUNS)

# The runs of `reproduce`, longest chain first: notebook 02's runs of the equations that notebooks 03 and 07
# train FNOs on, then those FNO runs (the longest runs), then the rest. make -j starts runs in the order of
# the prerequisites, but it skips a run whose inputs are still being made and comes back to it only after
# starting every later one; so with ORDERED=1 (as `reproduce` passes it) the other runs wait for notebook
# 02's first runs (an order-only prerequisite), and the FNO runs start as soon as their inputs exist.
FNO_EQUATIONS := $(sort $(DETECTOR_AUGMENTATION) $(call profile_list,pde_augmentation,equations))
FIRST_02_RUNS := $(call learned_02_of,$(FNO_EQUATIONS))
FIRST_RUNS := $(FIRST_02_RUNS) $(filter $(call executed,03_pde_augmentation),$(EXECUTED)) $(DETECTOR_AUGMENTATION_RUNS)
runs: $(FIRST_RUNS) $(PDE_SEED0_RUNS) $(EXECUTED) $(SEED_RUNS)
ifdef ORDERED
$(filter-out $(FIRST_RUNS),$(PDE_SEED0_RUNS) $(EXECUTED) $(SEED_RUNS)): | $(FIRST_02_RUNS)
endif

help: ## list the targets with one line each
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 24
