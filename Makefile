# spikebp — the two commands of the README, plus a few helpers.
#   make run    install missing Debian packages, build, fetch MNIST, train the paper's LeNet SNN
#               for one epoch and evaluate it
#   make test   install missing packages, build, fetch test data, run the whole test suite
#   make install [PREFIX=/usr/local] [DESTDIR=]   libraries, header, pkg-config and CMake
#               package files, the tool and its man page
BUILD ?= build
JOBS  ?= $(shell nproc)
RUN_DIR ?= runs/lenet-mnist
DATA_DIR ?= $(shell scripts/data-dir)
PREFIX ?= /usr/local

.PHONY: all deps build data run test bench test-sanitize install clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >$(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }
	@grep -E '✓|✗' $(BUILD).configure.log || true
	@cmake --build $(BUILD) -j $(JOBS)

data: deps
	@scripts/get-data mnist fashion-mnist

run: build data
	@mkdir -p $(RUN_DIR)
	$(BUILD)/spikebp train --net lenet --data mnist --epochs 1 --timesteps 100 --batch 64 --save $(RUN_DIR)/model.sbp
	$(BUILD)/spikebp eval --model $(RUN_DIR)/model.sbp --data mnist --timesteps 100

# The whole suite, then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test: build data
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-sanitize

test-sanitize: deps data
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBP_SANITIZE=ON >build-sanitize.configure.log 2>&1 || { cat build-sanitize.configure.log; exit 1; }
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# DESTDIR (staged installs, packaging) is read by cmake --install from the environment.
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

bench: build data
	@bench/run

clean:
	rm -rf $(BUILD) build-sanitize $(BUILD).configure.log build-sanitize.configure.log
