// Run-time CPU feature detection and the ISA path used by the explicit-SIMD kernels.
#pragma once

namespace prerank {

enum class Isa : int { portable = 0, avx2 = 1, avx512 = 2 };

// Widest path this CPU and OS support (AVX-512 needs F+BW+DQ+VL and OS-enabled ZMM state).
Isa detect_isa();
// The path in use: detect_isa() unless PRERANK_ISA (avx512|avx2|portable) forces one at start-up or set_isa() changes it.
Isa active_isa();
// Returns false (and changes nothing) when the CPU cannot run `isa`.
bool set_isa(Isa isa);
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);
// "AMD EPYC 9B45" etc., from CPUID brand string (or /proc/cpuinfo, or "unknown").
const char* cpu_model();

}  // namespace prerank
