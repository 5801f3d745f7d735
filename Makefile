# luatrain - build, test, demo. `make help` lists the targets.
# -fno-trapping-math: nothing here reads FP exception flags, and it lets gcc
# vectorize loops with selects (the fast exp/tanh/sigmoid of cpu_fastmath.h).
BUILD    ?= build
CC       ?= cc
LUA      ?= lua5.4
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ( [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc ))
# OpenBLAS: the OpenMP build when installed (libopenblas-openmp-dev), so BLAS
# and our kernels share one OpenMP thread pool; with the pthread build two
# pools spin against each other on small machines (an LSTM's backward ran
# 2.8x slower). The rpath keeps that choice whatever the alternatives say.
BLAS_OMP  := /usr/lib/x86_64-linux-gnu/openblas-openmp
ifneq ($(wildcard $(BLAS_OMP)/pkgconfig/openblas.pc),)
BLAS_PC    := PKG_CONFIG_PATH=$(BLAS_OMP)/pkgconfig
BLAS_RPATH := -Wl,-rpath,$(BLAS_OMP)
endif
PKG_CFLAGS := $(shell pkg-config --cflags lua5.4 jansson zlib 2>/dev/null) \
              $(shell $(BLAS_PC) pkg-config --cflags openblas 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs jansson zlib 2>/dev/null) \
              $(shell $(BLAS_PC) pkg-config --libs openblas 2>/dev/null) $(BLAS_RPATH)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null)
READLINE   := $(shell [ -f /usr/include/readline/readline.h ] && echo 1)

OPT      ?= -O2
SANFLAGS ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -g -fPIC -fopenmp -fno-trapping-math -Wall -Wextra -Werror \
            -Iengine -Ibindings $(PKG_CFLAGS) $(SANFLAGS)
LDLIBS    = $(PKG_LIBS) -lm -ldl -lpthread -fopenmp
ifeq ($(READLINE),1)
HOST_CFLAGS = -DLT_USE_READLINE
HOST_LIBS   = -lreadline
endif

ENGINE_SRC   := $(sort $(wildcard engine/*.c))
BINDINGS_SRC := $(sort $(wildcard bindings/*.c))
HOST_SRC     := $(sort $(wildcard host/*.c))
LUA_SRC      := $(sort $(shell find lua -name '*.lua'))
CUDA_SRC     := $(sort $(wildcard cuda/*.cu))
CTEST_SRC    := $(sort $(wildcard tests/c/test_*.c))

ENGINE_OBJ   := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
BINDINGS_OBJ := $(BINDINGS_SRC:%.c=$(BUILD)/obj/%.o)
HOST_OBJ     := $(HOST_SRC:%.c=$(BUILD)/obj/%.o)
EMBED_OBJ    := $(BUILD)/obj/stdlib_embed.o
CTESTS       := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

TARGETS = $(BUILD)/luatrain $(BUILD)/luatrain.so $(CTESTS)
ifneq ($(NVCC),)
ifeq ($(SANFLAGS),)
TARGETS += $(BUILD)/luatrain_cuda.so
endif
endif

.PHONY: all deps demo test test-only sanitize ctest clean help bench fuzz lint
all: $(TARGETS)

help:
	@echo "make deps      install the Debian packages (apt-get)"
	@echo "make           build build/luatrain, build/luatrain.so (+ CUDA backend if nvcc)"
	@echo "make demo      deps + build + train examples/boilerplate.lua"
	@echo "make test      deps + build + every test (C, busted specs, examples)"
	@echo "make sanitize  the whole suite under -fsanitize=address,undefined"
	@echo "make bench     benchmarks against PyTorch (bench/README.md)"

deps:
	@sh scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard engine/*.h) $(wildcard bindings/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(filter host/%,$<),$(HOST_CFLAGS)) -c $< -o $@

$(BUILD)/stdlib_embed.c: $(LUA_SRC) scripts/embed.lua
	@mkdir -p $(BUILD)
	$(LUA) scripts/embed.lua lua $@ $(LUA_SRC)

$(EMBED_OBJ): $(BUILD)/stdlib_embed.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-overlength-strings -c $< -o $@

$(BUILD)/libltengine.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/luatrain: $(HOST_OBJ) $(BINDINGS_OBJ) $(EMBED_OBJ) $(BUILD)/libltengine.a
	$(CC) $(CFLAGS) -o $@ $(HOST_OBJ) $(BINDINGS_OBJ) $(EMBED_OBJ) $(BUILD)/libltengine.a \
	  $(LUA_LIBS) $(HOST_LIBS) $(LDLIBS) -Wl,-E

$(BUILD)/luatrain.so: $(BINDINGS_OBJ) $(EMBED_OBJ) $(BUILD)/libltengine.a
	$(CC) $(CFLAGS) -shared -o $@ $(BINDINGS_OBJ) $(EMBED_OBJ) $(BUILD)/libltengine.a $(LDLIBS)

$(BUILD)/tests/%: tests/c/%.c tests/c/ctest.h $(BUILD)/libltengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/c -o $@ $< $(BUILD)/libltengine.a $(LDLIBS)

# CUDA backend: a shared object the engine dlopens; linked to cuBLAS/cuRAND.
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVFLAGS   ?= -O3 -std=c++17 $(CUDA_ARCH) -Xcompiler -fPIC -Xcompiler -Wall \
             -Xcompiler -fvisibility=hidden -Iengine \
             --expt-relaxed-constexpr -Wno-deprecated-gpu-targets
CUDA_OBJ  := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
$(BUILD)/obj/cuda/%.o: cuda/%.cu $(wildcard cuda/*.cuh) engine/luatrain.h engine/backend.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c $< -o $@
$(BUILD)/luatrain_cuda.so: $(CUDA_OBJ)
	$(NVCC) $(NVFLAGS) -shared -o $@ $(CUDA_OBJ) -lcublas -lcublasLt -lcurand

demo: deps all
	cd examples && ../$(BUILD)/luatrain boilerplate.lua

ctest: $(CTESTS)
	@sh scripts/run-ctests.sh $(BUILD)

test: deps all test-only
test-only:
	@BUILD=$(BUILD) sh scripts/run-tests.sh

sanitize: deps
	$(MAKE) BUILD=build-asan OPT=-O1 SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" all
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  BUILD=build-asan SANITIZE=1 sh scripts/run-tests.sh

bench: all
	BUILD=$(BUILD) sh bench/run.sh

lint:
	luacheck lua examples tests bench

clean:
	rm -rf $(BUILD) build-asan
