/* CPU feature detection and the CG_SIMD override. */
#include "cryptogen/common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

unsigned cg_cpu_features_raw(void)
{
    unsigned f = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= CG_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        f |= CG_CPU_AVX512F;
    if ((f & CG_CPU_AVX512F) && __builtin_cpu_supports("avx512ifma")) f |= CG_CPU_AVX512IFMA;
    if (__builtin_cpu_supports("aes")) f |= CG_CPU_AESNI;
    if (__builtin_cpu_supports("pclmul")) f |= CG_CPU_PCLMUL;
    if (__builtin_cpu_supports("bmi2")) f |= CG_CPU_BMI2;
    return f;
}

unsigned cg_cpu_features(void)
{
    unsigned f = cg_cpu_features_raw();
    const char *force = getenv("CG_SIMD");
    if (force) {
        if (strcmp(force, "portable") == 0)
            f &= ~(unsigned)(CG_CPU_AVX2 | CG_CPU_AVX512F | CG_CPU_AVX512IFMA);
        else if (strcmp(force, "avx2") == 0)
            f &= ~(unsigned)(CG_CPU_AVX512F | CG_CPU_AVX512IFMA);
    }
    return f;
}

int cg_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

uint64_t cg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
