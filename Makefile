# distlab -- build, test, install.
#
#   make deps     install the Debian packages distlab needs (as root)
#   make          build build/distlab (runs deps first)
#   make check    build and run every test with prove, then the run-folder readers
#                 under ASan+UBSan and the threaded tests under TSan
#   make demo     build and run the main demo
#   make bench    speed measurements against their references (slow)
#   make fuzz, make fuzz-records   libFuzzer on the LIBSVM parser, on the run-folder readers
#   make install  PREFIX=/usr/local DESTDIR=   (distlab, and its platforms/
#                 and labs/ in PREFIX/share/distlab, found by short name;
#                 libdistlab.a, the headers an algorithm needs and distlab.pc,
#                 for files of your own: algorithms/plugin.h)
#
# Sources are found by folder: every .c under core/ algorithms/ sim/ real/
# ml/ plots/ goes into build/libdistlab.a, cli/*.c into build/distlab, and
# each tests/test_*.c becomes one TAP test binary (one cmocka group each).

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= gcc
CXX     ?= g++
BUILD   := build

# Debian packages: build-time libraries, test tools and the real dataset.
DEB_PACKAGES := gcc g++ make pkg-config perl \
	libsimgrid-dev libgsl-dev libopenblas-dev libcairo2-dev libpango1.0-dev \
	libjansson-dev libxml2-dev zlib1g-dev libcmocka-dev liblbfgs-dev dataset-fashion-mnist fortunes fortunes-min \
	fonts-dejavu-core libtsan2

PKGS    := simgrid gsl cairo pangocairo jansson libxml-2.0 zlib
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -pthread -I. -MMD -MP
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -Wall -Wextra -I. -MMD -MP
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# GSL's dense math goes to OpenBLAS, not GSL's reference CBLAS.
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null | sed 's/-lgslcblas/-lopenblas/') -llbfgs -lstdc++ -lrt -lm
TEST_LIBS  = $(shell pkg-config --libs cmocka 2>/dev/null)

# Build on every core unless the command line says how many jobs (make -jN):
# `make check` from a clean clone compiles the library three times (plain,
# ThreadSanitizer, and the AddressSanitizer readers), which one core does
# at half the speed of two.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif

LIB_C   := $(wildcard core/*.c algorithms/*.c sim/*.c real/*.c ml/*.c plots/*.c)
LIB_CXX := $(wildcard sim/*.cpp)
CLI_C   := $(wildcard cli/*.c)
TEST_C  := $(wildcard tests/test_*.c)
TESTUTIL_C := $(wildcard tests/util_*.c)
BENCH_C := $(wildcard bench/*.c)

LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cpp=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_C:%.c=$(BUILD)/%.o)
TESTUTIL_OBJ := $(TESTUTIL_C:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_C:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_C:bench/%.c=$(BUILD)/bench/%)
LIB      := $(BUILD)/libdistlab.a
BIN      := $(BUILD)/distlab

.PHONY: all deps check demo bench install clean tsan asan fuzz fuzz-records FORCE
# keep test objects between runs (they are intermediate files of the test rules)
.SECONDARY:

all: deps $(BIN)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install:$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# deps first, even under make -j (order-only: installing never forces a rebuild)
$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# An installed distlab finds its platforms and labs by short name
# (--platform two-racks) in SHARE, compiled in; build/prefix records the
# PREFIX it was built for, so a new PREFIX recompiles cli.o.
SHARE := $(PREFIX)/share/distlab
INCLUDEDIR := $(PREFIX)/include/distlab
$(BUILD)/cli/cli.o: CFLAGS += -DDISTLAB_SHARE='"$(SHARE)"'
$(BUILD)/cli/plugin.o: CFLAGS += -DDISTLAB_INCLUDE='"$(INCLUDEDIR)"'
$(BUILD)/cli/cli.o $(BUILD)/cli/plugin.o: $(BUILD)/prefix
$(BUILD)/prefix: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SHARE)' | cmp -s - $@ || echo '$(SHARE)' > $@
FORCE:

# -rdynamic and the whole library: a user's algorithm, loaded at run time
# (cli/plugin.c), finds every rt_* and coll_* function in the executable.
$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $(CLI_OBJ) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(PKG_LIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TESTUTIL_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(TESTUTIL_OBJ) $(LIB) $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# coll_pieces takes distlab's job options (cli.h): it links the command
# line's objects, all but main's
$(BUILD)/bench/coll_pieces: $(BUILD)/bench/coll_pieces.o $(filter-out $(BUILD)/cli/distlab.o,$(CLI_OBJ)) $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $(filter %.o,$^) $(LIB) $(PKG_LIBS)

check: deps $(BIN) $(TEST_BIN)
	CMOCKA_MESSAGE_OUTPUT=TAP DISTLAB=$(abspath $(BIN)) prove --exec '' $(TEST_BIN)
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory tsan

demo: deps $(BIN)
	./demo.sh $(BIN)

bench: deps $(BIN) $(BENCH_BIN)
	./bench/run.sh $(BIN)

# What a file of one's own needs (algorithms/plugin.h): the runtime, collectives
# and Ray headers, the library, and distlab.pc for its -I and -l.
PLUGIN_HEADERS := algorithms/runtime.h algorithms/collectives.h algorithms/ray.h algorithms/plugin.h
LAB_DIRS := $(patsubst %/,%,$(wildcard labs/[0-9][0-9]-*/))
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SHARE)/platforms $(DESTDIR)$(SHARE)/labs \
	  $(DESTDIR)$(INCLUDEDIR)/algorithms $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/distlab
	install -m 644 platforms/*.xml $(DESTDIR)$(SHARE)/platforms/
	install -m 644 labs/README.md labs/demo.exp $(DESTDIR)$(SHARE)/labs/
	for d in $(LAB_DIRS); do install -d $(DESTDIR)$(SHARE)/$$d && install -m 644 $$d/* $(DESTDIR)$(SHARE)/$$d/; done
	install -m 644 $(PLUGIN_HEADERS) $(DESTDIR)$(INCLUDEDIR)/algorithms/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libdistlab.a
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include/distlab' 'libdir=$${prefix}/lib' '' \
	  'Name: distlab' 'Description: distributed-ML algorithms on a simulated cluster or real sockets' \
	  'Version: $(shell sed -n 's/.*DISTLAB_VERSION "\(.*\)"/\1/p' cli/cli.h)' \
	  'Requires.private: $(PKGS)' 'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -ldistlab' 'Libs.private: -llbfgs -lopenblas -lstdc++ -lrt -lm -pthread' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/distlab.pc

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d) $(TESTUTIL_OBJ:.o=.d) $(BENCH_BIN:=.d)

# ThreadSanitizer: the library and the tests of what runs on threads
# (Hogwild!, the real backend's threads mode, lda's and allreduce-lbfgs's
# ranks on threads) built with -fsanitize=thread in their own folder, then
# run; make check runs it after the other tests. Their command-line cases
# run the ordinary binary ($$DISTLAB): cmocka reports a skipped test as
# "not ok # SKIP", which prove counts as a failure.
# Hogwild!'s races are races by design, but every shared access is a
# relaxed atomic, so TSan must report nothing.
TSAN_BUILD := build-tsan
TSAN_TESTS := test_hogwild test_real_basic test_real_net test_lda test_allreduce_lbfgs test_ray
tsan: deps $(BIN)
	CFLAGS="-O1 -g -fsanitize=thread" $(MAKE) BUILD=$(TSAN_BUILD) $(TSAN_TESTS:%=$(TSAN_BUILD)/tests/%)
	CMOCKA_MESSAGE_OUTPUT=TAP DISTLAB=$(abspath $(BIN)) TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	  prove --exec '' $(TSAN_TESTS:%=./$(TSAN_BUILD)/tests/%)

# AddressSanitizer + UndefinedBehaviorSanitizer: the run-folder readers
# and what draws from them (core/records*.c, core/analysis.c, plots/),
# with tests/test_malformed_runs.c on malformed run folders, built in their
# own folder from only those sources (seconds to build and run); make
# check runs it after the other tests. Any report fails it.
ASAN_BUILD := build-asan
ASAN_SRC := core/records.c core/records_read.c core/records_trace.c core/analysis.c core/rt_core.c \
	$(wildcard plots/*.c) tests/util_records_input.c tests/util_files.c
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
$(ASAN_BUILD)/test_malformed_runs: tests/test_malformed_runs.c $(ASAN_SRC) $(wildcard core/*.h plots/*.h tests/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -pthread -I. $(ASAN_FLAGS) $(PKG_CFLAGS) -o $@ \
	  tests/test_malformed_runs.c $(ASAN_SRC) $(PKG_LIBS) $(TEST_LIBS)

asan: $(ASAN_BUILD)/test_malformed_runs
	CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS="detect_leaks=1 exitcode=67" \
	  LSAN_OPTIONS="suppressions=$(abspath tests/lsan.supp) print_suppressions=0" \
	  UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" prove --exec '' ./$<

# make fuzz: libFuzzer + AddressSanitizer on the LIBSVM parser, for
# FUZZ_SECONDS (default 60); installs clang when run as root. Not
# part of make check. New inputs go to build/fuzz/corpus; a crash leaves
# crash-* in the current folder.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_LIBS = $(shell pkg-config --libs gsl zlib 2>/dev/null | sed 's/-lgslcblas/-lopenblas/') -lm

$(BUILD)/fuzz/fuzz_libsvm: fuzz/fuzz_libsvm.c $(wildcard ml/*.c ml/*.h) core/units.c
	@command -v $(FUZZ_CC) >/dev/null || [ "$$(id -u)" != 0 ] || [ "$(FUZZ_CC)" != clang ] || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang >/dev/null
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: $(FUZZ_CC) not found (apt-get install clang, as root)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=gnu11 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ fuzz/fuzz_libsvm.c $(wildcard ml/*.c) core/units.c $(FUZZ_LIBS)

fuzz: deps $(BUILD)/fuzz/fuzz_libsvm
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_libsvm -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/fuzz/corpus fuzz/corpus_libsvm

# make fuzz-records: libFuzzer + ASan + UBSan on the run-folder readers
# (fuzz/fuzz_records.c), for FUZZ_SECONDS; seeds in fuzz/corpus_records,
# new inputs in build/fuzz/corpus_records.
FUZZ_RECORDS_SRC := core/records.c core/records_read.c core/records_trace.c core/analysis.c core/rt_core.c \
	$(wildcard plots/*.c) tests/util_records_input.c
$(BUILD)/fuzz/fuzz_records: fuzz/fuzz_records.c $(FUZZ_RECORDS_SRC) $(wildcard core/*.h plots/*.h tests/*.h)
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz-records: $(FUZZ_CC) not found (apt-get install clang, as root)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=gnu11 -I. $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ fuzz/fuzz_records.c $(FUZZ_RECORDS_SRC) $(PKG_LIBS)

fuzz-records: deps $(BUILD)/fuzz/fuzz_records
	@mkdir -p $(BUILD)/fuzz/corpus_records
	$(BUILD)/fuzz/fuzz_records -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/fuzz/corpus_records fuzz/corpus_records
