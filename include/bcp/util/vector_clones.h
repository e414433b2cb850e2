// Marks a loop kernel for compilation three times (AVX-512, AVX2, baseline x86-64), the fastest
// that the CPU runs being picked at load time (GCC's target_clones): the build targets baseline
// x86-64, so without it the compiler vectorises for SSE2 only. Elsewhere it is empty.
#pragma once

//
// BCP_VECTOR_CLONES_16BIT is for loops over 16-bit values (bf16 bits). AVX-512 has 16-bit lanes
// only with its BW extension, so an "avx512f" clone ran such loops 256 bits wide; x86-64-v4
// (AVX-512 F, BW, DQ, VL, CD: every AVX-512 CPU since Skylake-SP and Zen 4) runs them 512 wide.
// fp-contract=off keeps products and sums apart there, as in the AVX2 and baseline clones (which
// have no fused multiply-add), so every clone rounds alike.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BCP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#if __GNUC__ >= 12  // x86-64-v4 clones checked with GCC 12 (Debian 12); older: the avx512f ones
#define BCP_VECTOR_CLONES_16BIT \
  __attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), optimize("fp-contract=off")))
#else
#define BCP_VECTOR_CLONES_16BIT BCP_VECTOR_CLONES
#endif
#else
#define BCP_VECTOR_CLONES
#define BCP_VECTOR_CLONES_16BIT
#endif
