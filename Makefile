# selfsup: one non-recursive Makefile for the library, the tools and the tests.
#
#   make            build bin/
#   make check      install missing packages (as root), build, run every test
#   make asan       the same tests under AddressSanitizer
#   make ubsan      the same tests under UndefinedBehaviorSanitizer
#   make bench      benchmarks against peers (writes docs/benchmarks.md)
#   make run        the main experiment (see README.md)
#   make install PREFIX=/usr/local, make uninstall

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin

CC ?= cc
OPT ?= -O3
BUILD ?= build
BIN ?= bin

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla -Wdouble-promotion -Wundef \
        -Wno-unused-parameter
ifeq ($(CI),true)
WARN += -Werror
endif

PKGS := libzstd libpng zlib openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# -fno-math-errno lets loops with sqrtf vectorise; results are unchanged.
CFLAGS ?= $(OPT) -g -fno-math-errno
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DSS_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) \
              $(SANITIZE) -Ilib -Itools $(PKG_CFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -lpthread -lm
ALL_LDFLAGS := $(LDFLAGS) $(SANITIZE)

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A := $(BUILD)/libselfsup.a

# A tool is either tools/NAME.c or a folder tools/NAME/ of sources; both
# link with tools/tool.c into bin/selfsup-NAME.
TOOL_SRC := $(filter-out tools/tool.c tools/selfsup.c,$(wildcard tools/*.c))
TOOL_DIRS := $(patsubst tools/%/,%,$(wildcard tools/*/))
TOOLS := $(TOOL_SRC:tools/%.c=$(BIN)/selfsup-%) $(TOOL_DIRS:%=$(BIN)/selfsup-%)
DISPATCHER := $(BIN)/selfsup

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Tool and test objects come from pattern rules alone, so make would delete
# them as intermediate files, and a later make that reads their dependency
# files would compile them all again.
.SECONDARY: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tools/tool.o $(BUILD)/tools/selfsup.o \
            $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(TOOL_DIRS:%=tools/%/*.c))) \
            $(UNIT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all check unit asan ubsan bench run deps install uninstall clean pkgcheck
all: pkgcheck $(TOOLS) $(DISPATCHER) $(UNIT_BIN)

# Names the Debian package for each missing pkg-config module.
pkgcheck:
	@sh tests/pkgcheck.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN)/selfsup-%: $(BUILD)/tools/%.o $(BUILD)/tools/tool.o $(LIB_A)
	@mkdir -p $(BIN)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

define tool_dir_rule
$(BIN)/selfsup-$(1): $$(patsubst %.c,$(BUILD)/%.o,$$(wildcard tools/$(1)/*.c)) $(BUILD)/tools/tool.o $(LIB_A)
	@mkdir -p $(BIN)
	$$(CC) $$(ALL_LDFLAGS) $$^ $$(LDLIBS) -o $$@
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_dir_rule,$(t))))

$(DISPATCHER): $(BUILD)/tools/selfsup.o $(BUILD)/tools/tool.o $(LIB_A)
	@mkdir -p $(BIN)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

deps:
	@sh tests/deps.sh

check: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) BUILD=$(BUILD) sh tests/run.sh

unit: all
	@BIN=$(BIN) BUILD=$(BUILD) sh tests/run.sh unit

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin OPT=-O1 \
	  SANITIZE='-fsanitize=address -fno-omit-frame-pointer' all
	@ASAN_OPTIONS=detect_leaks=1 BIN=build-asan/bin BUILD=build-asan sh tests/run.sh

ubsan:
	@$(MAKE) --no-print-directory BUILD=build-ubsan BIN=build-ubsan/bin OPT=-O1 \
	  SANITIZE='-fsanitize=undefined -fno-sanitize-recover=all' all
	@UBSAN_OPTIONS=print_stacktrace=1 BIN=build-ubsan/bin BUILD=build-ubsan sh tests/run.sh

bench: all
	@sh bench/run.sh

# Coverage-guided fuzzing of the stream reader and the JSON parser with
# libFuzzer: builds build-fuzz/fuzz_NAME from each tests/fuzz/fuzz_NAME.c and
# runs each for FUZZ_TIME seconds; FUZZ_FLAGS go to every fuzzer. UBSan
# reports abort (no recovery), so libFuzzer saves the input as for a crash.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 60
FUZZ_FLAGS ?=
FUZZ_SANITIZE := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: fuzz fuzz-build fuzz-deps
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) CFLAGS='-g -O1' \
	  SANITIZE='$(FUZZ_SANITIZE)' fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run.sh $(FUZZ_FLAGS)

fuzz-build: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/%)

# Debian ships libFuzzer's runtime in a package named after clang's major
# version, which clang itself only recommends.
fuzz-deps: deps
	@sh tests/deps.sh clang
	@sh tests/deps.sh libclang-rt-$$($(FUZZ_CC) -dumpversion | cut -d. -f1)-dev

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(LIB_A)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

-include $(wildcard $(BUILD)/tests/fuzz/*.d)

# The main experiment; PRESET=quick (default, about 15 minutes) or full.
PRESET ?= quick
run: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f pipelines/fashion-mnist.mk PRESET=$(PRESET) BIN=$(BIN)
	@echo
	@sed -n '1p;/^| method/,/^$$/p' results/fashion-mnist/$(PRESET)/report.md
	@echo "Report and figures: results/fashion-mnist/$(PRESET)/report.md"


install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(TOOLS) $(DISPATCHER) $(DESTDIR)$(BINDIR)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS) $(DISPATCHER)))

clean:
	rm -rf build build-asan build-ubsan build-fuzz bin

-include $(LIB_OBJ:.o=.d) $(wildcard $(BUILD)/tools/*.d $(BUILD)/tools/*/*.d $(BUILD)/tests/unit/*.d)
