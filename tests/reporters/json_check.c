/* SPDX-License-Identifier: MIT */
/*
 * json_check: validate a json reporter file for the shell tests, with only
 * cJSON (no jq or python on a bare CI image).
 *
 *   json_check [--oar ID] FILE [FIELD...]
 *
 * Every line must be complete (end with a newline), parse as one JSON object
 * and carry the contract's fields with the right types; oar_job_id must be
 * absent, or equal ID with --oar. For each line, the FIELDs given are then
 * printed tab-separated: strings raw, with the reporter's \uef80..\uefff
 * escapes turned back into the bytes they stand for, other values as JSON.
 * Exit 0 when every line is valid, 1 (one line on stderr) when not, 2 on
 * usage errors.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

static const char *file;
static long lineno;

static int bad(const char *what, const char *field)
{
    fprintf(stderr, "json_check: %s:%ld: %s%s%s\n", file, lineno, what,
            field ? ": " : "", field ? field : "");
    return -1;
}

static int want_string(const cJSON *o, const char *name)
{
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, name))) {
        return bad("missing or not a string", name);
    }
    return 0;
}

static int want_number(const cJSON *o, const char *name, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(it)) {
        return bad("missing or not a number", name);
    }
    *v = it->valuedouble;
    return 0;
}

static int want_string_or_null(const cJSON *o, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(it) && !cJSON_IsNull(it)) {
        return bad("missing or neither string nor null", name);
    }
    return 0;
}

/* 8-4-4-4-12 hex digits. */
static int is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

static int check(const cJSON *o, const char *oar)
{
    const cJSON *it, *a;
    double gen, start, end, dur, attempt, a_start, a_end;
    const char *steps[] = {"next", "setup", "process", "teardown"};
    int seen[4] = {0, 0, 0, 0};

    if (!cJSON_IsObject(o)) {
        return bad("not an object", NULL);
    }
    if (want_string(o, "uid") || want_string(o, "minion") ||
        want_number(o, "generation", &gen) || want_number(o, "start", &start) ||
        want_number(o, "end", &end) || want_number(o, "duration", &dur) ||
        want_string(o, "param") || want_string_or_null(o, "error") ||
        want_string(o, "nodename") || want_string(o, "task_id") ||
        want_number(o, "attempt", &attempt) || want_string(o, "status") ||
        want_string(o, "output")) {
        return -1;
    }
    if (gen < 1 || gen != floor(gen)) {
        return bad("generation is not a positive integer", NULL);
    }
    if (!is_uuid(cJSON_GetObjectItemCaseSensitive(o, "uid")->valuestring)) {
        return bad("uid is not a UUID (one run of the minion process)",
                   cJSON_GetObjectItemCaseSensitive(o, "uid")->valuestring);
    }
    if (start < 1e9 || end < start || fabs(dur - (end - start)) > 2e-6) {
        return bad("start/end/duration are not epoch times in order", NULL);
    }
    if (attempt < 1 || attempt != floor(attempt)) {
        return bad("attempt is not a positive integer", NULL);
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (strcmp(it->valuestring, "ok") && strcmp(it->valuestring, "failed") &&
        strcmp(it->valuestring, "dead") &&
        strcmp(it->valuestring, "released")) {
        return bad("unknown status", it->valuestring);
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "exit_code");
    if (!cJSON_IsNumber(it) && !cJSON_IsNull(it)) {
        return bad("exit_code is neither number nor null", NULL);
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "atomic_actions");
    if (!cJSON_IsArray(it)) {
        return bad("missing or not an array", "atomic_actions");
    }
    cJSON_ArrayForEach(a, it)
    {
        const char *name;

        if (want_string(a, "name") || want_number(a, "start", &a_start) ||
            want_number(a, "end", &a_end)) {
            return -1;
        }
        if (a_end < a_start) {
            return bad("an action ends before it starts", NULL);
        }
        name = cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring;
        for (int k = 0; k < 4; k++) {
            if (strcmp(name, steps[k]) == 0 && seen[k]++) {
                return bad("an action appears twice", name);
            }
        }
    }
    if (!seen[2]) {
        return bad("no process action", NULL);
    }
    /* The task process's resources: all numbers, or all null. */
    {
        int nulls = 0;
        const char *usage[] = {"maxrss_kb", "user_s", "sys_s"};
        for (int k = 0; k < 3; k++) {
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, usage[k]);
            if (cJSON_IsNull(u)) {
                nulls++;
            } else if (!cJSON_IsNumber(u) || u->valuedouble < 0) {
                return bad("neither a number nor null", usage[k]);
            }
        }
        if (nulls != 0 && nulls != 3) {
            return bad("resource figures partly null", NULL);
        }
        it = cJSON_GetObjectItemCaseSensitive(o, "signal");
        if (!cJSON_IsNull(it) && !(cJSON_IsNumber(it) && it->valueint > 0)) {
            return bad("signal is neither null nor a signal number", NULL);
        }
    }

    it = cJSON_GetObjectItemCaseSensitive(o, "oar_job_id");
    if (oar == NULL && it != NULL) {
        return bad("oar_job_id present without OAR_JOB_ID", NULL);
    }
    if (oar != NULL &&
        (!cJSON_IsString(it) || strcmp(it->valuestring, oar) != 0)) {
        return bad("oar_job_id is not", oar);
    }
    return 0;
}

/* Print a decoded string: U+EF80..U+EFFF (UTF-8 ee be/bf xx) is a raw byte. */
static void print_raw(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        if (p[0] == 0xee && (p[1] == 0xbe || p[1] == 0xbf) &&
            (p[2] & 0xc0) == 0x80) {
            putchar(0x80 | ((p[1] & 1) << 6) | (p[2] & 0x3f));
            p += 3;
            continue;
        }
        putchar(*p++);
    }
}

int main(int argc, char **argv)
{
    const char *oar = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *f;
    int i, first, rc = 0;

    if (argc >= 3 && strcmp(argv[1], "--oar") == 0) {
        oar = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: json_check [--oar ID] FILE [FIELD...]\n");
        return 2;
    }
    file = argv[1];
    f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return 1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        cJSON *o;
        lineno++;
        if (line[n - 1] != '\n') {
            rc = bad("incomplete last line", NULL);
            break;
        }
        if ((size_t)n != strlen(line)) {
            rc = bad("raw NUL byte in the line", NULL);
            break;
        }
        o = cJSON_Parse(line);
        if (o == NULL) {
            rc = bad("not valid JSON", NULL);
            break;
        }
        rc = check(o, oar);
        for (i = 2, first = 1; rc == 0 && i < argc; i++, first = 0) {
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, argv[i]);
            if (!first) {
                putchar('\t');
            }
            if (cJSON_IsString(it)) {
                print_raw(it->valuestring);
            } else if (it != NULL) {
                char *s = cJSON_PrintUnformatted(it);
                fputs(s, stdout);
                free(s);
            }
        }
        if (rc == 0 && argc > 2) {
            putchar('\n');
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    if (rc == 0 && lineno == 0) {
        fprintf(stderr, "json_check: %s: no report lines\n", file);
        return 1;
    }
    return rc == 0 ? 0 : 1;
}
