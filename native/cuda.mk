# SPDX-License-Identifier: GPL-3.0-or-later
# nvcc step of the spikeshard_cuda addon: compiles src/cuda/*.cu into one static library that
# node-gyp links into the addon (binding.gyp runs this from an action). Usable alone:
#   make -f cuda.mk CUDA_HOME=/usr/local/cuda
# Device code for sm_80 (A100) and sm_90 (H100/H200), plus compute_90 PTX so newer cards JIT it.
CUDA_HOME ?= /usr/local/cuda
NVCC := $(CUDA_HOME)/bin/nvcc
OUT ?= build/cuda
ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
        -gencode arch=compute_90,code=compute_90
NVCCFLAGS := -std=c++20 -O3 $(ARCH) -Werror all-warnings \
             -Xcompiler -fPIC,-Wall,-Wextra,-Werror -Iinclude -Isrc/cuda -Isrc/core
SRC := $(wildcard src/cuda/*.cu)
OBJ := $(patsubst src/cuda/%.cu,$(OUT)/%.o,$(SRC))
LIB := $(OUT)/libspikeshard_cuda_kernels.a

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/%.o: src/cuda/%.cu $(wildcard src/cuda/*.h) $(wildcard src/cuda/*.cuh) $(wildcard include/spikeshard/*.h)
	@mkdir -p $(OUT)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

clean:
	rm -rf $(OUT)

.PHONY: clean

# Standalone parity check and micro-benchmark (no Node.js): CPU core + CUDA kernels, cudart static.
CXX ?= g++
CHECK := $(OUT)/spikeshard-cuda-check
DRIFT_CHECK := $(OUT)/spikeshard-drift-check
DESTRIPE_CHECK := $(OUT)/spikeshard-destripe-check
check-binary: $(CHECK) $(DRIFT_CHECK) $(DESTRIPE_CHECK)
$(CHECK): test/cuda/cuda_check.cc $(LIB) $(wildcard src/core/*.cc) $(wildcard src/core/*.h) $(wildcard include/spikeshard/*.h)
	$(CXX) -std=c++20 -O3 -ffp-contract=off -Wall -Wextra -Werror -pthread -Iinclude -Isrc/core -Isrc/cuda \
	  test/cuda/cuda_check.cc $(wildcard src/core/*.cc) $(LIB) -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lz -o $@

.PHONY: check-binary

# Standalone drift-detection parity check (../test/gpu/drift_check.cc): CPU core + CUDA kernels.
$(DRIFT_CHECK): ../test/gpu/drift_check.cc $(LIB) $(wildcard src/core/*.cc) $(wildcard src/core/*.h) $(wildcard include/spikeshard/*.h) $(wildcard src/cuda/*.h)
	$(CXX) -std=c++20 -O3 -ffp-contract=off -Wall -Wextra -Werror -pthread -Iinclude -Isrc/core -Isrc/cuda \
	  ../test/gpu/drift_check.cc $(wildcard src/core/*.cc) $(LIB) -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lz -o $@

# Standalone parity of IBL's waveform path (../test/gpu/destripe_check.cc): CPU core + CUDA kernels.
$(DESTRIPE_CHECK): ../test/gpu/destripe_check.cc $(LIB) $(wildcard src/core/*.cc) $(wildcard src/core/*.h) $(wildcard include/spikeshard/*.h) $(wildcard src/cuda/*.h)
	$(CXX) -std=c++20 -O3 -ffp-contract=off -Wall -Wextra -Werror -pthread -Iinclude -Isrc/core -Isrc/cuda \
	  ../test/gpu/destripe_check.cc $(wildcard src/core/*.cc) $(LIB) -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lz -o $@
