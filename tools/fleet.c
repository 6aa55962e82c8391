/* SPDX-License-Identifier: MIT */
/* The fleet model's lifetime. A struct fleet owns its minions array, their
 * strings and the error texts (all malloc'd: a source fills them with
 * malloc/strdup, fleet_clear frees them); it borrows source and where. */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "fleet.h"

void fleet_init(struct fleet *f, const char *source, const char *where)
{
    struct timeval tv;

    memset(f, 0, sizeof(*f));
    f->source = source;
    f->where = where;
    gettimeofday(&tv, NULL);
    f->now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    f->ok = f->failed = f->dead = FLEET_UNKNOWN;
    f->pending = f->lag = f->in_flight = FLEET_UNKNOWN;
    f->stream_length = f->added = f->dead_letters = FLEET_UNKNOWN;
    f->percent = f->eta_s = FLEET_UNKNOWN;
    f->p50 = f->mean = f->p95 = FLEET_UNKNOWN;
    f->rate_1m = f->rate_all = FLEET_UNKNOWN;
    f->started = FLEET_UNKNOWN;
}

void fleet_clear(struct fleet *f)
{
    const char *source = f->source, *where = f->where;
    size_t i;

    for (i = 0; i < f->n_minions; i++) {
        struct fleet_minion *m = &f->minions[i];

        free(m->id);
        free(m->uid);
        free(m->nodename);
        free(m->oar_job_id);
        free(m->slurm_job_id);
        free(m->slurm_array_task_id);
    }
    free(f->minions);
    for (i = 0; i < f->n_errors; i++) {
        free(f->errors[i].text);
    }
    free(f->errors);
    fleet_init(f, source, where);
}

double fleet_done(const struct fleet *f)
{
    double sum = 0;
    int known = 0;

    if (f->ok >= 0) {
        sum += f->ok, known = 1;
    }
    if (f->failed >= 0) {
        sum += f->failed, known = 1;
    }
    if (f->dead >= 0) {
        sum += f->dead, known = 1;
    }
    return known ? sum : FLEET_UNKNOWN;
}
