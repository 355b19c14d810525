# Two commands a newcomer needs:
#   make demo   installs what is missing, builds, makes the demo data, runs the notebook script
#   make test   runs the whole test suite
# and, for the GPU build (about 14 minutes, not part of CI): make cuda, make cuda-clippy
.PHONY: demo test deps build demo-data lint clean-demo cuda cuda-clippy

DEMO_DIR ?= data/demo
BIN := target/release/vidcompare

deps:
	@tools/install-deps.sh

build: deps
	cargo build --release

$(DEMO_DIR)/classical/splits/train.txt: | build
	$(BIN) demo-data $(DEMO_DIR)

demo-data: build $(DEMO_DIR)/classical/splits/train.txt

demo: demo-data
	$(BIN) run scripts/comparative_analysis.rhai \
		--set data_root_classical=$(DEMO_DIR)/classical \
		--set data_root_deep=$(DEMO_DIR)/deep

test: deps
	@tools/install-evcxr.sh
	cargo test

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

# --features cuda from NVIDIA's CUDA 13.0 wheels, no GPU needed: target-cuda/release/vidcompare
cuda:
	tools/build-cuda.sh build

cuda-clippy:
	tools/build-cuda.sh clippy

clean-demo:
	rm -rf $(DEMO_DIR) reports/comparative_analysis
