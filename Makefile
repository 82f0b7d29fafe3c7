# The two commands: `make demo` and `make check`. Everything else is CMake.
PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
# The Windows tree (mingw-w64); make check's ctest builds it there too.
WIN_BUILD ?= $(BUILD)-windows
WIN_CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build check check-asan check-tsan install demo bench bench-raw bench-ab soak fuzz clean windows windows-build

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DMCRX_WERROR=ON -DMCRX_REQUIRE_UV=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# Every test, twice: a normal build, then under AddressSanitizer and UBSan
# (all but the Windows tests, label windows: mingw-built programs under wine,
# with no sanitizer); then the threaded tests under ThreadSanitizer. Only the
# normal build's ctest builds the Windows tree in $(WIN_BUILD) (test
# windows-build, scripts/windows-build.sh) and runs its programs under wine.
check: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-tsan

check-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DMCRX_WERROR=ON -DMCRX_REQUIRE_UV=ON -DMCRX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE "windows|no-asan"

# The tests labelled "threads" (several threads on one context) under
# ThreadSanitizer; any race report fails them.
check-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DMCRX_WERROR=ON -DMCRX_REQUIRE_UV=ON -DMCRX_TSAN=ON -DCMAKE_BUILD_TYPE=Debug \
	  -DMCRX_BUILD_TOOLS=OFF -DMCRX_BUILD_EXAMPLES=OFF -DMCRX_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(JOBS) -L threads

# libFuzzer (clang) on every parser of outside input, FUZZ_SECONDS per target;
# grows and re-minimises tests/fuzz/corpus/, which make check replays.
fuzz:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DMCRX_FUZZ=ON -DMCRX_WERROR=ON \
	  -DMCRX_BUILD_TESTS=OFF -DMCRX_BUILD_TOOLS=OFF -DMCRX_BUILD_EXAMPLES=OFF -DMCRX_BUILD_BENCH=OFF \
	  -DMCRX_BUILD_UV=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# A real sender and receiver on a private two-host network, shown working.
demo: build
	@bash scripts/demo.sh $(BUILD)

# Isolation soak: millions of sequence-numbered datagrams, IPv4 and IPv6,
# ASM and SSM on one port, several processes, other programs' sockets; a
# report per subscription (foreign, duplicate, lost, reordered).
SOAK_DATAGRAMS ?= 4000000
soak: build
	scripts/netns-run.sh $(BUILD)/tests/mcrx_soak --datagrams $(SOAK_DATAGRAMS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Windows, cross-built with mingw-w64 (docs/windows.md):
#   make windows PREFIX=DIR   builds $(WIN_BUILD) and installs the Windows tree
#                             under DIR: bin/ (mcrx-core.dll, mcrx_recv.exe,
#                             mcrx_recv_meta.exe, mcrx_send.exe), lib/ (import and
#                             static libraries, pkg-config, CMake package), include/
#   make windows-build        only builds $(WIN_BUILD) (programs and DLL in its bin/)
windows-build: deps
	bash scripts/windows-build.sh $(WIN_BUILD) $(WIN_CMAKE_FLAGS)

windows: windows-build
ifeq ($(origin PREFIX),file)
	@echo "make windows: say where the Windows tree goes: make windows PREFIX=DIR" >&2; exit 1
endif
	cmake --install $(WIN_BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(WIN_BUILD)

# Receive-capacity benchmark in private namespaces; writes bench/results.md.
# A second drain, built with counting compiled out, shows what counting costs.
bench: build
	cmake -S . -B $(BUILD)-nocount -DMCRX_COUNTERS=OFF -DMCRX_BUILD_TESTS=OFF -DMCRX_BUILD_TOOLS=OFF \
	  -DMCRX_BUILD_EXAMPLES=OFF -DMCRX_BUILD_UV=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-nocount -j $(JOBS) --target mcrx_bench_drain
	scripts/netns-run.sh env OUT=$(CURDIR)/bench/results.md RAW=$(CURDIR)/bench/results.raw \
	  NOCOUNT_BUILD=$(CURDIR)/$(BUILD)-nocount bench/run.sh $(BUILD)
	@echo >> bench/results.md
	@echo "What counting costs (callgrind, user-space instructions per datagram, 64-byte payloads):" >> bench/results.md
	@echo >> bench/results.md
	scripts/netns-run.sh bench/count-cost.sh $(BUILD) $(BUILD)-nocount >> bench/results.md
	@echo >> bench/results.md
	@echo "Raw capture (bench/raw_run.sh; tcpdump and libpcap as the anchor):" >> bench/results.md
	@echo >> bench/results.md
	scripts/netns-run.sh env RAW=$(CURDIR)/bench/results-raw-capture.raw bench/raw_run.sh $(BUILD) >> bench/results.md
	@cat bench/results.md

# The drain of this tree against the one of BENCH_BASE (a commit), run by run
# interleaved in one sitting: how a change moves the receive paths.
# The raw-capture modes alone (bench/raw_run.sh), e.g.
# make bench-raw RAW_MODES="pkt-recvfrom shared-single" SIZES=64 REPS=1
bench-raw: build
	scripts/netns-run.sh env $(if $(RAW_MODES),RAW_MODES="$(RAW_MODES)") $(if $(SIZES),SIZES="$(SIZES)") \
	  $(if $(REPS),REPS=$(REPS)) $(if $(COUNT),COUNT=$(COUNT)) bench/raw_run.sh $(BUILD)

# make bench-ab BENCH_BASE=<commit> [REPS=7 MODES="sub ctx batch thread"]
bench-ab: build
	@test -n "$(BENCH_BASE)" || { echo "usage: make bench-ab BENCH_BASE=<commit>"; exit 2; }
	rm -rf $(CURDIR)/$(BUILD)-base-src
	git worktree add -f --detach $(CURDIR)/$(BUILD)-base-src $(BENCH_BASE)
	cmake -S $(BUILD)-base-src -B $(BUILD)-base -DMCRX_BUILD_TESTS=OFF -DMCRX_BUILD_TOOLS=OFF \
	  -DMCRX_BUILD_EXAMPLES=OFF -DMCRX_BUILD_UV=OFF $(CMAKE_FLAGS) && \
	  cmake --build $(BUILD)-base -j $(JOBS) --target mcrx_bench_drain mcrx_bench_flood; \
	  rc=$$?; git worktree remove --force $(CURDIR)/$(BUILD)-base-src; exit $$rc
	scripts/netns-run.sh bench/ab.sh $(BUILD)-base $(BUILD)
