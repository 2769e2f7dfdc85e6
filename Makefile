# Deep Generative Models course: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := out/demo
# Tests and CI use the offline copies of MNIST / Fashion-MNIST beside the repository when present.
export DGM_DATA ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data),$(CURDIR)/data)

.PHONY: help env demo test test-fast release bench lectures-deps lectures seminars clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(VENV)/.installed: requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

env: $(VENV)/.installed  ## create .venv with the pinned course environment (once)

demo: env  ## grade the hw1 reference solution and the blank student notebook (quick profile)
	rm -rf $(DEMO) && mkdir -p $(DEMO)/submissions
	cp homeworks/source/hw1_pixelcnn/hw1_pixelcnn.ipynb $(DEMO)/submissions/reference.ipynb
	cp homeworks/release/hw1_pixelcnn/hw1_pixelcnn.ipynb $(DEMO)/submissions/blank.ipynb
	$(PY) -m autograder grade hw1 $(DEMO)/submissions --profile quick --jobs 2 --out $(DEMO)/results

test: env  ## the project's test suite (about 41 minutes on 2 cores)
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: env  ## the tests that do not train or grade whole notebooks
	$(PY) -m pytest -n 2 -m "not slow"

release: env  ## validate sources, verify references, regenerate homeworks/release and student seminars, build dist/ (wheel + student-bundle.zip); RELEASE_ARGS=--no-verify skips grading the references
	$(PY) -m autograder release $(RELEASE_ARGS)

bench: env  ## benchmarks (print figures): hw1-hw6 references (hw2 against zuko, hw3 against vector-quantize-pytorch, hw4 against a non-saturating GAN, hw5 against diffusers' DDPMScheduler, hw6 against torchcfm and torchdiffeq), time to score 1,000 samples
	# -c requirements.txt keeps the course's torch: torchcfm's optional dependencies would pull a newer torch through torchvision
	$(PY) -m pip install -q -c requirements.txt "zuko>=1.1" "vector-quantize-pytorch>=1.20" "torchmetrics>=1.4" "diffusers>=0.30" torchdiffeq pot
	$(PY) -m pip install -q --no-deps "torchcfm>=1.0"
	$(PY) benchmarks/hw1_pixelcnn.py
	$(PY) benchmarks/hw2_realnvp.py
	$(PY) benchmarks/hw3_vqvae.py
	$(PY) benchmarks/hw4_wgan.py
	$(PY) benchmarks/hw5_ddpm.py
	$(PY) benchmarks/hw6_flow_matching.py
	$(PY) benchmarks/sample_quality.py

# The TeX toolchain is needed by `make lectures` only (Debian/Ubuntu; macOS: see lectures/README.md).
TEX_PACKAGES := latexmk texlive-latex-base texlive-latex-recommended texlive-fonts-recommended texlive-pictures lmodern
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

lectures-deps:  ## install the TeX toolchain for `make lectures` with apt-get (about 290 MB, under a minute)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES) >/dev/null

lectures: env  ## regenerate the lecture figures and build every lecture PDF into out/lectures
	$(PY) lectures/build.py

seminars: env  ## execute every seminar notebook top to bottom (outputs go to out/seminars)
	$(PY) -m seminars.run

clean:  ## remove build outputs (not the environment)
	rm -rf out dist
