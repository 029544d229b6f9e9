/* `cryptogen demo`: the README's main job. Until secure generation exists it
 * runs the HE benchmark (issue plan); it becomes private generation later. */
#include <stdio.h>

#include "cli/commands.h"

int cg_cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char *bench_argv[] = {"bench", "he", "--json", NULL};
    return cg_cmd_bench(3, bench_argv);
}
