# SPDX-License-Identifier: GPL-3.0-or-later
# The CPU backend of the spikeshard native core. Built by `npm ci` (node-gyp finds Node's headers
# through npm's nodedir; node-addon-api is header-only, so nothing is downloaded).
# The CUDA backend (spikeshard_cuda) is built too when scripts/cuda-home.cjs finds a toolkit
# (CUDA_HOME, CUDA_PATH or nvcc on PATH); without one both CUDA targets are left out and the
# build succeeds with the CPU backend alone. docs/cuda.md has the details.
# -ffp-contract=off: no multiply-add is fused, so the kernels that promise the bits of a plain
# loop (or of the TypeScript one they replaced) keep that promise where the target has FMA.
{
  "variables": {
    "cuda_home%": "<!(node scripts/cuda-home.cjs)"
  },
  "targets": [
    {
      "target_name": "spikeshard_cpu",
      "sources": [
        "<!@(node -e \"console.log(require('fs').readdirSync('src/core').filter(f=>f.endsWith('.cc')).map(f=>'src/core/'+f).join(' '))\")",
        "<!@(node -e \"console.log(require('fs').readdirSync('src/addon').filter(f=>f.endsWith('.cc')).map(f=>'src/addon/'+f).join(' '))\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "include", "src/addon-common"],
      "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O3", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-fexceptions"],
      "libraries": ["-lz"],
      "ldflags": ["-pthread"]
    }
  ],
  "conditions": [
    ["cuda_home!=''", {
      "targets": [
        {
          "target_name": "spikeshard_cuda_kernels",
          "type": "none",
          "actions": [
            {
              "action_name": "nvcc",
              "inputs": [
                "cuda.mk",
                "<!@(node -e \"console.log(require('fs').readdirSync('src/cuda').map(f=>'src/cuda/'+f).join(' '))\")"
              ],
              "outputs": ["build/cuda/libspikeshard_cuda_kernels.a"],
              "action": ["make", "-s", "-f", "cuda.mk", "CUDA_HOME=<(cuda_home)", "OUT=build/cuda"]
            }
          ]
        },
        {
          "target_name": "spikeshard_cuda",
          "dependencies": ["spikeshard_cuda_kernels"],
          "sources": [
            "src/core/preprocess_filter.cc",
            "src/core/destripe_tables.cc",
            "src/core/threads.cc",
            "src/core/templates.cc",
            "src/core/templates_proposal_select.cc",
            "src/core/linalg.cc",
            "src/core/drift_detect.cc",
            "src/core/drift_simd.cc",
            "<!@(node -e \"console.log(require('fs').readdirSync('src/addon-cuda').filter(f=>f.endsWith('.cc')).map(f=>'src/addon-cuda/'+f).join(' '))\")"
          ],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "include", "src/cuda", "src/core", "src/addon-common"],
          "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
          "cflags_cc": ["-std=c++20", "-O3", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-fexceptions"],
          "libraries": [
            "<(module_root_dir)/build/cuda/libspikeshard_cuda_kernels.a",
            "-L<(cuda_home)/lib64",
            "-lcudart_static",
            "-ldl",
            "-lrt",
            "-lpthread"
          ],
          "ldflags": ["-pthread"]
        }
      ]
    }]
  ]
}
