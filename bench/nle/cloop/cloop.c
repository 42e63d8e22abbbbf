/* cloop.c: the plain C baseline for `make bench BENCH=nle`. It drives libnethack.so through
 * the same loader as Maestro (envs/nethack/internal/nledl/nledl.c) with no Go in the loop:
 * random TASK_ACTIONS keys, resets included, the same observation buffers as the Go side.
 *
 *   cloop LIB NHDAT THREADS GAMES_PER_THREAD STEPS  -> prints "steps_per_s <x>"
 *
 * Each thread takes STEPS steps (a fixed amount of work: the same games as the Go side).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../../envs/nethack/internal/nledl/nledl.h"

static const int task_actions[] = {13, 107, 108, 106, 104, 117, 110, 98, 121, 75, 76, 74,
                                   72, 85, 78, 66, 89, 60, 62, 46, 4, 101, 115};
#define NACT (sizeof task_actions / sizeof task_actions[0])
/* The bench's observation keys: NLE's env default without screen_descriptions, plus the
 * program_state and internal buffers every env reads. */
#define KEYS (GONLE_K_ALL & ~GONLE_K_SCREEN_DESCRIPTIONS & ~GONLE_K_MISC)

static const char *lib, *nhdat;
static int games_per_thread;
static long steps_per_thread;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void seed_next(gonle *g, unsigned long long s);

static gonle *make_game(unsigned long long *episode)
{
    char err[1024], dir[] = "/tmp/cloopXXXXXX", p[512];
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    snprintf(p, sizeof p, "%s/nhdat", dir);
    if (symlink(nhdat, p)) { perror("symlink"); exit(1); }
    const char *files[] = {"perm", "record", "logfile", "xlogfile"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        fclose(fopen(p, "a"));
    }
    snprintf(p, sizeof p, "%s/save", dir);
    mkdir(p, 0755);
    gonle *g = gonle_new(lib, KEYS, err, sizeof err);
    if (!g) { fprintf(stderr, "cloop: %s\n", err); exit(1); }
    snprintf(g->settings.hackdir, sizeof g->settings.hackdir, "%s/", dir);
    snprintf(g->settings.options, sizeof g->settings.options, "%s",
             "autopickup,color,disclose:+i +a +v +g +c +o,mention_walls,nobones,nocmdassist,"
             "nolegacy,nosparkle,pickup_burden:unencumbered,pickup_types:$?!/,runmode:teleport,"
             "showexp,showscore,time,name:Agent-mon-hum-neu-mal");
    seed_next(g, ++*episode);
    if (gonle_start(g, NULL, err, sizeof err)) { fprintf(stderr, "cloop: %s\n", err); exit(1); }
    return g;
}

static pthread_barrier_t ready;
static double t_start;

/* Every side of the benchmark draws actions from this xorshift64 with the same seed and seeds
 * episode e of worker w with core = disp = w*1000000 + e + 1, so all play the same games. */
static unsigned long long xorshift(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void seed_next(gonle *g, unsigned long long s)
{
    g->settings.initial_seeds.seeds[0] = s;
    g->settings.initial_seeds.seeds[1] = s;
    g->settings.initial_seeds.reseed = 0;
    g->settings.initial_seeds.use_init_seeds = true;
    g->settings.fix_moon_phase = true;
    g->settings.time_seed = s + 1;
    g->settings.time_seed_is_set = true;
}

struct work {
    int index;
    long steps;
};

static void *worker(void *arg)
{
    struct work *w = arg;
    unsigned long long x = 0x9E3779B97F4A7C15ull + (unsigned long long) w->index;
    unsigned long long episode = (unsigned long long) w->index * 1000000ull;
    gonle *g[64];
    char err[1024];
    for (int i = 0; i < games_per_thread; i++)
        g[i] = make_game(&episode);
    /* The clock starts when every thread has its games. */
    if (pthread_barrier_wait(&ready) == PTHREAD_BARRIER_SERIAL_THREAD)
        t_start = now();
    pthread_barrier_wait(&ready);
    long n = 0;
    while (n < steps_per_thread) {
        for (int i = 0; i < games_per_thread; i++) {
            if (gonle_step(g[i], task_actions[xorshift(&x) % NACT]) == 1) {
                seed_next(g[i], ++episode);
                if (gonle_start(g[i], NULL, err, sizeof err)) {
                    fprintf(stderr, "cloop: %s\n", err);
                    exit(1);
                }
            }
            n++;
        }
    }
    w->steps = n;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: cloop LIB NHDAT THREADS GAMES_PER_THREAD STEPS\n");
        return 2;
    }
    lib = argv[1];
    nhdat = argv[2];
    int threads = atoi(argv[3]);
    games_per_thread = atoi(argv[4]);
    steps_per_thread = atol(argv[5]);
    if (threads < 1 || threads > 16 || games_per_thread < 1 || games_per_thread > 64) return 2;
    pthread_t th[16];
    struct work w[16];
    pthread_barrier_init(&ready, NULL, threads);
    for (int i = 0; i < threads; i++) {
        w[i].index = i;
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) { pthread_join(th[i], NULL); total += w[i].steps; }
    printf("steps_per_s %.0f\n", total / (now() - t_start));
    return 0;
}
