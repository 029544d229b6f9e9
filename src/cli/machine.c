/* The machine a benchmark ran on, from /proc/cpuinfo and the library's own
 * CPU feature detection (which honours CG_SIMD, so a forced slower path is
 * recorded as such). */
#include "cli/machine.h"

#include <string.h>

#include "cryptogen/common.h"

/* The CPU's model name, or "unknown"; quotes and backslashes dropped so the
 * name is a valid JSON string. */
static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        const char *p = colon + 1;
        while (*p == ' ' || *p == '\t') p++;
        size_t n = 0;
        for (; *p && *p != '\n' && n + 1 < size; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) out[n++] = *p;
        out[n] = '\0';
        break;
    }
    fclose(f);
}

void cli_print_machine_json(FILE *f)
{
    static const struct {
        unsigned bit;
        const char *name;
    } features[] = {{CG_CPU_AVX2, "avx2"},   {CG_CPU_AVX512F, "avx512f"}, {CG_CPU_AVX512IFMA, "avx512ifma"},
                    {CG_CPU_AESNI, "aesni"}, {CG_CPU_PCLMUL, "pclmul"},   {CG_CPU_BMI2, "bmi2"}};
    char model[128];
    cpu_model(model, sizeof model);
    const unsigned have = cg_cpu_features();
    fprintf(f, "\"machine\": {\"cpu\": \"%s\", \"cpus\": %d, \"features\": [", model, cg_cpu_count());
    int n = 0;
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
        if (have & features[i].bit) fprintf(f, "%s\"%s\"", n++ ? ", " : "", features[i].name);
    fprintf(f, "]}");
}
