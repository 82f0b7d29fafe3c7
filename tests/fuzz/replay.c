/*
 * Runs a fuzz target over saved inputs without libFuzzer, so any compiler
 * builds it and ctest replays the corpus (under ASan too, in make check).
 * usage: replay_<target> FILE_OR_DIR...  (a directory: each file in it)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, r;
    if (f == NULL) {
        perror(path);
        return -1;
    }
    do {
        if (size == cap) {
            uint8_t *g = realloc(data, cap = cap ? cap * 2 : 4096);
            if (g == NULL) {
                fclose(f);
                free(data);
                return -1;
            }
            data = g;
        }
        r = fread(data + size, 1, cap - size, f);
        size += r;
    } while (r > 0);
    fclose(f);
    /* An exact-size copy: ASan sees any read past the input. */
    {
        uint8_t *exact = malloc(size ? size : 1);
        if (exact == NULL) {
            free(data);
            return -1;
        }
        if (size > 0)
            memcpy(exact, data, size);
        free(data);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
    }
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
    int i, k, runs = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            struct dirent **names;
            int n = scandir(argv[i], &names, NULL, by_name);
            if (n < 0) {
                perror(argv[i]);
                return 1;
            }
            for (k = 0; k < n; k++) {
                char path[4096];
                struct stat fs;
                snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
                if (stat(path, &fs) == 0 && S_ISREG(fs.st_mode)) {
                    if (run_file(path) != 0)
                        return 1;
                    runs++;
                }
                free(names[k]);
            }
            free(names);
        } else {
            if (run_file(argv[i]) != 0)
                return 1;
            runs++;
        }
    }
    printf("%s: %d inputs replayed\n", argv[0], runs);
    return runs > 0 ? 0 : 1;
}
