# Two commands a newcomer needs:
#   make demo   installs what is missing, builds, makes the demo data, runs the notebook script
#   make test   runs the whole test suite
.PHONY: demo test deps build demo-data lint clean-demo

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

clean-demo:
	rm -rf $(DEMO_DIR) reports/comparative_analysis
