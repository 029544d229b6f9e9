/* `cryptogen version` */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cryptogen/common.h"

int cg_cmd_version(int argc, char **argv)
{
    const cli_opt opts[] = {{0}};
    const cli_command cmd = {.name = "version", .opts = opts,
                             .about = "Prints the version, the CPU's SIMD features and those in use."};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    unsigned raw = cg_cpu_features_raw(), used = cg_cpu_features();
    printf("cryptogen %s\n", CG_VERSION_STRING);
    printf("cpu: avx2=%d avx512=%d avx512ifma=%d aesni=%d\n", !!(raw & CG_CPU_AVX2),
           !!(raw & CG_CPU_AVX512F), !!(raw & CG_CPU_AVX512IFMA), !!(raw & CG_CPU_AESNI));
    printf("simd in use: %s\n", (used & CG_CPU_AVX512IFMA) ? "avx512ifma"
                                : (used & CG_CPU_AVX512F)  ? "avx512"
                                : (used & CG_CPU_AVX2)     ? "avx2"
                                                           : "portable");
    return 0;
}
