// Marks a loop kernel for compilation three times (AVX-512, AVX2, baseline x86-64), the fastest
// that the CPU runs being picked at load time (GCC's target_clones): the build targets baseline
// x86-64, so without it the compiler vectorises for SSE2 only. Elsewhere it is empty.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BCP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BCP_VECTOR_CLONES
#endif
