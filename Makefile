# The front door:  make           installs what is missing, builds build/ser, trains the demo
#                                 model on a synthetic corpus and says where the outputs are
#                  make test      builds and runs the ctest suites
# Reliability passes (separate build folders, host code only, see README "Reliability"):
#                  make sanitize  the ctest suites under AddressSanitizer + UBSan
#                  make valgrind  the CLI smoke tests under valgrind memcheck
#                  make fuzz      every libFuzzer target for FUZZ_SECONDS each (clang)
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
DEMO  ?= runs/demo
SAN_BUILD    ?= build-asan
VG_BUILD     ?= build-valgrind
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
# the reliability builds: optimised with debug info (fast enough, readable stacks), no CUDA
HOST_ONLY = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSER_CUDA=OFF

.PHONY: all deps deps-reliability build test demo clean sanitize valgrind fuzz

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

deps-reliability:
	@scripts/install-deps.sh reliability

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

sanitize: deps-reliability
	cmake -S . -B $(SAN_BUILD) $(HOST_ONLY) -DSER_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# no -march=native: valgrind does not decode AVX-512
valgrind: deps-reliability
	cmake -S . -B $(VG_BUILD) $(HOST_ONLY) -DSER_NATIVE=OFF -DSER_VALGRIND=ON
	cmake --build $(VG_BUILD) -j $(JOBS) --target ser
	cd $(VG_BUILD) && ctest --output-on-failure -L valgrind

fuzz: deps-reliability
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(HOST_ONLY) -DSER_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(VG_BUILD) $(FUZZ_BUILD)
