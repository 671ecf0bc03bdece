{
  "targets": [
    {
      "target_name": "prerank_native",
      "sources": [
        "native/addon.cc",
        "native/kernels.cc",
        "native/gau_max_sim.cc",
        "native/max_sim_cross.cc",
        "native/cpu.cc",
        "native/pool.cc",
        "native/gemm.cc",
        "native/gemm_avx512.cc",
        "native/gemm_avx2.cc",
        "native/gemm_portable.cc",
        "native/serve.cc",
        "native/serve_scores.cc",
        "native/serve_binding.cc",
        "native/mmap.cc",
        "native/key_lookup.cc",
        "native/id_lookup.cc",
        "native/serve_avx512.cc",
        "native/serve_avx512bf16.cc",
        "native/serve_avx2.cc",
        "native/serve_portable.cc",
        "native/serve_wasm128.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3"] }
    }
  ]
}
