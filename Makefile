# Herald build. `make` builds build/herald, the example component, the unit
# tests and the bench tools; `make check` runs every test (also under
# ASan+UBSan); `make demo` runs the end-to-end demo on throwaway servers.
# Sources are found by wildcard so adding a module needs no edit here.

CC      ?= cc
BUILD   ?= build
PKGS    := libstrophe libpq yaml-0.1
# Debian 12 ships no libev.pc: fall back to plain -lev.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT     ?= -O2
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -g $(OPT) -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lev -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRCS   := $(filter-out pubsub/main.c,$(wildcard component/*.c config/*.c storage/*.c pubsub/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB        := $(BUILD)/libherald.a

# Schema migrations are embedded in the binary (storage/migrate.c): every
# schemas/NNN_*.sql becomes one generated C file. The directory is a
# prerequisite so that adding a file regenerates it.
SCHEMA_SQL := $(sort $(wildcard schemas/[0-9]*_*.sql))
LIB_OBJS   += $(BUILD)/obj/gen/schemas.o

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
EXAMPLES   := $(patsubst component/examples/%.c,$(BUILD)/examples/%,$(wildcard component/examples/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
ITEST_SRCS := $(wildcard tests/integration/*.c)
ITEST_BINS := $(ITEST_SRCS:tests/integration/%.c=$(BUILD)/itests/%)
# Fuzz targets: each build gets replay drivers (tests/fuzz/run-replay runs
# them over the corpora); `make fuzz` builds the libFuzzer binaries.
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_TIME  ?= 300

.SECONDARY:
.PHONY: all check unit integration sanitize demo bench deps clean format fuzz fuzz-run
all: $(BUILD)/herald $(EXAMPLES) $(UNIT_BINS) $(BENCH_BINS) $(ITEST_BINS) $(FUZZ_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/schemas.c: schemas $(SCHEMA_SQL) storage/gen_schemas.sh
	@mkdir -p $(dir $@)
	sh storage/gen_schemas.sh $(SCHEMA_SQL) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/schemas.o: $(BUILD)/gen/schemas.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/herald: $(BUILD)/obj/pubsub/main.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/examples/%: $(BUILD)/obj/component/examples/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/itests/%: $(BUILD)/obj/tests/integration/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

ifeq ($(FUZZER),1)
# libFuzzer build (clang): coverage on every object, libFuzzer's main().
CC      := clang
CFLAGS  += -fsanitize=fuzzer-no-link
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@
else
# Replay build (any compiler): tests/fuzz/replay.c runs each input once.
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
endif

# Packages first (pkg-config flags above are read at parse time, so the
# real build runs in a sub-make once the -dev packages exist).
deps:
	@bash deploy/dev/install-deps

unit: all
	@bash tests/unit/run $(BUILD)/tests

sanitize:
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 OPT=-O1 all

integration: all
	@bash tests/integration/run $(BUILD)

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory sanitize
	@bash tests/check $(BUILD) build/san

demo: deps
	@$(MAKE) --no-print-directory all
	@bash deploy/dev/demo $(BUILD)

fuzz:
	@$(MAKE) --no-print-directory BUILD=build/fuzz FUZZER=1 SAN=1 OPT=-O1 \
	    $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/fuzz/%)

fuzz-run: fuzz
	@bash tests/fuzz/run-fuzz build/fuzz $(FUZZ_TIME)

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
