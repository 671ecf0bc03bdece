// A target pragma pair for compiling a block of code for one x86 instruction set (GCC or Clang), used to include
// the same loops once per ISA inside their own namespaces:
//   PRERANK_TARGET_PUSH("avx2,fma")  namespace ...::avx2 { #include "loops.inc" }  PRERANK_TARGET_POP
#pragma once

#define PRERANK_PRAGMA_STR(x) #x
#if defined(__clang__)
#define PRERANK_TARGET_PUSH(t) _Pragma(PRERANK_PRAGMA_STR(clang attribute push(__attribute__((target(t))), apply_to = function)))
#define PRERANK_TARGET_POP _Pragma("clang attribute pop")
#else
#define PRERANK_TARGET_PUSH(t) _Pragma("GCC push_options") _Pragma(PRERANK_PRAGMA_STR(GCC target(t)))
#define PRERANK_TARGET_POP _Pragma("GCC pop_options")
#endif

// Each ISA copy passes 64-byte vector values between its inline functions; in the portable and AVX2 copies GCC notes
// that such a value would be passed differently under AVX-512. They never cross a call between the copies.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
