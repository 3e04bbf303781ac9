/* allreduce.c -- the reference for `distlab collective --backend real`:
 * MPI_Allreduce of float32 sums, timed the same way (a barrier, then one
 * allreduce, max over ranks, averaged over the iterations after a warm-up)
 * and checked. Built by bench/collective.sh with Open MPI's mpicc; run over
 * TCP only (--mca btl tcp,self). Prints CSV: bytes,seconds. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int me, p;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    int iters = argc > 1 ? atoi(argv[1]) : 5, bad = 0;
    for (int a = 2; a < argc; a++) {
        long count = atol(argv[a]) / 4;
        float *buf = malloc((size_t)(count ? count : 1) * sizeof *buf);
        double total = 0;
        for (int it = -1; it < iters; it++) {
            for (long i = 0; i < count; i++)
                buf[i] = (float)((me % 13 + 1) * (int)(i % 5 + 1));
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double t = MPI_Wtime() - t0, worst;
            MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (it >= 0)
                total += worst;
            float ranks = 0;
            for (int q = 0; q < p; q++)
                ranks += (float)(q % 13 + 1);
            for (long i = 0; i < count; i++)
                bad += buf[i] != ranks * (float)(i % 5 + 1);
        }
        if (me == 0)
            printf("%ld,%.9g\n", count * 4, total / iters);
        free(buf);
    }
    MPI_Finalize();
    return bad != 0;
}
