# The compendium's commands. `make` (= `make reproduce`) runs every notebook at PROFILE=quick;
# `make test` runs the test suite. Both set up .venv first when requirements change.
PROFILE ?= quick
DEVICE  ?= cpu
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
LIB     := $(wildcard lib/symflow/*.py)
RUN     := $(PY) -m symflow.runner

.DEFAULT_GOAL := reproduce
.PHONY: setup reproduce test lab clean

setup: $(STAMP)

# Rebuilt only when the requirements or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name symflow --display-name "Python (symflow)"
	touch $@

# One rule per notebook: results/<nb>/<profile>/<nb>.ipynb is rebuilt when the notebook, the
# library or the notebook's declared inputs (DEPS_<nb>) change.
NOTEBOOKS := $(sort $(basename $(notdir $(wildcard notebooks/[0-9][0-9]_*.ipynb))))
EXECUTED  := $(foreach nb,$(NOTEBOOKS),results/$(nb)/$(PROFILE)/$(nb).ipynb)

define notebook_rule
results/$(1)/$(PROFILE)/$(1).ipynb: notebooks/$(1).ipynb $(STAMP) $(LIB) $$(DEPS_$(1))
	$(RUN) $(1) --profile $(PROFILE) --device $(DEVICE)
endef
$(foreach nb,$(NOTEBOOKS),$(eval $(call notebook_rule,$(nb))))

reproduce: $(EXECUTED)

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=.

clean:
	rm -rf data/$(PROFILE) $(foreach nb,$(NOTEBOOKS),results/$(nb)/$(PROFILE) results/$(nb)/$(PROFILE).partial)
