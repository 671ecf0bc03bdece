// Run-time CPU feature detection (cpu.h): which SIMD path the CPU and OS support, the path in use
// (PRERANK_ISA / set_isa), and the CPU model string. x86-64 uses CPUID/XGETBV; elsewhere only the
// portable path exists.
#include "cpu.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#define PRERANK_X86 1
#include <cpuid.h>
#endif

namespace prerank {
namespace {

#if PRERANK_X86
// XCR0: which register state the OS saves on context switch.
unsigned long long read_xcr0() {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  if (!(ecx & (1u << 27))) return 0;  // OSXSAVE: XGETBV usable
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

Isa detect_uncached() {
  __builtin_cpu_init();
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool zmm_os = (xcr0 & 0xE6) == 0xE6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx2 && avx512 && zmm_os) return Isa::avx512;
  if (avx2 && ymm_os) return Isa::avx2;
  return Isa::portable;
}

std::string brand_string() {
  unsigned int regs[12];
  unsigned int max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext < 0x80000004u) return "";
  for (unsigned int i = 0; i < 3; ++i)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  char buf[49];
  std::memcpy(buf, regs, 48);
  buf[48] = '\0';
  return buf;
}
#else
Isa detect_uncached() { return Isa::portable; }
std::string brand_string() { return ""; }
#endif

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// First "model name" (x86) or "Hardware"/"CPU part" style line from /proc/cpuinfo.
std::string cpuinfo_model() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "";
  char line[512];
  std::string model, hardware;
  while (std::fgets(line, sizeof line, f)) {
    const char* colon = std::strchr(line, ':');
    if (!colon) continue;
    std::string key = trim(std::string(line, colon - line)), val = trim(colon + 1);
    if (key == "model name" && model.empty()) model = val;
    if (key == "Hardware" && hardware.empty()) hardware = val;
  }
  std::fclose(f);
  return !model.empty() ? model : hardware;
}

Isa parse_env_isa(Isa detected) {
  const char* env = std::getenv("PRERANK_ISA");
  if (!env || !*env) return detected;
  Isa want;
  if (!std::strcmp(env, "avx512")) want = Isa::avx512;
  else if (!std::strcmp(env, "avx2")) want = Isa::avx2;
  else if (!std::strcmp(env, "portable")) want = Isa::portable;
  else {
    std::fprintf(stderr, "prerank: unknown PRERANK_ISA=%s, using %s\n", env, isa_name(detected));
    return detected;
  }
  if (static_cast<int>(want) > static_cast<int>(detected)) {
    std::fprintf(stderr, "prerank: PRERANK_ISA=%s not supported by this CPU, using %s\n", env, isa_name(detected));
    return detected;
  }
  return want;
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(parse_env_isa(detect_isa()))};
  return slot;
}

}  // namespace

Isa detect_isa() {
  static const Isa isa = detect_uncached();
  return isa;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

bool isa_supported(Isa isa) {
  const int v = static_cast<int>(isa);
  return v >= 0 && v <= static_cast<int>(detect_isa());
}

bool set_isa(Isa isa) {
  if (!isa_supported(isa)) return false;
  active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::portable: return "portable";
  }
  return "unknown";
}

const char* cpu_model() {
  static const std::string model = [] {
    std::string s = trim(brand_string());
    if (s.empty()) s = cpuinfo_model();
    return s.empty() ? std::string("unknown") : s;
  }();
  return model.c_str();
}

}  // namespace prerank
