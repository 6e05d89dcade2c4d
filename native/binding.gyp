# SPDX-License-Identifier: GPL-3.0-or-later
# The CPU backend of the spikeshard native core. Built by `npm ci` (node-gyp finds Node's headers
# through npm's nodedir; node-addon-api is header-only, so nothing is downloaded).
{
  "targets": [
    {
      "target_name": "spikeshard_cpu",
      "sources": [
        "<!@(node -e \"console.log(require('fs').readdirSync('src/core').filter(f=>f.endsWith('.cc')).map(f=>'src/core/'+f).join(' '))\")",
        "<!@(node -e \"console.log(require('fs').readdirSync('src/addon').filter(f=>f.endsWith('.cc')).map(f=>'src/addon/'+f).join(' '))\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "include"],
      "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O3", "-Wall", "-Wextra", "-Werror", "-fexceptions"],
      "ldflags": ["-pthread"]
    }
  ]
}
