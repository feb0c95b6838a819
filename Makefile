# The front door:  make       installs what is missing, builds build/ser, trains the demo
#                             model on a synthetic corpus and says where the outputs are
#                  make test  builds and runs the ctest suites
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
DEMO  ?= runs/demo

.PHONY: all deps build test demo clean

all: build demo
	@echo
	@echo "built:   $(BUILD)/ser   ($$($(BUILD)/ser --version | head -1))"
	@echo "trained: $(DEMO)/run/   (model.safetensors, report.txt, training_history.png, ...)"
	@echo "next:    $(BUILD)/ser train --config configs/tess.ini --data DIR --out runs/NAME   (see README.md)"

demo: build
	$(BUILD)/ser synth --out $(DEMO)/data
	$(BUILD)/ser train --config configs/demo.ini --data $(DEMO)/data --out $(DEMO)/run

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)
