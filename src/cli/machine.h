/* What a benchmark ran on, for its JSON record: a figure without its
 * machine cannot be compared with another. */
#ifndef CG_CLI_MACHINE_H
#define CG_CLI_MACHINE_H

#include <stdio.h>

/* Writes `"machine": {"cpu": ..., "cpus": N, "simd": ..., "features": [...]}`
 * (no separator around it). */
void cli_print_machine_json(FILE *f);

#endif
