/* How many CPU threads this process was given: the allocation of a Slurm task or of a GNU
 * parallel job, not the cores of the machine that submitted it. */
#ifndef SER_CLI_TASK_THREADS_H
#define SER_CLI_TASK_THREADS_H

/* OMP_NUM_THREADS (its first number) when set, else SLURM_CPUS_PER_TASK, else the number of
 * CPUs in this process's affinity mask (sched_getaffinity: taskset, cgroups cpusets, Slurm's
 * binding), else the online cores. Always >= 1. *from names the source ("OMP_NUM_THREADS",
 * "SLURM_CPUS_PER_TASK", "the CPU affinity", "the online cores") when from is not NULL. */
int cli_task_threads(const char **from);

#endif
