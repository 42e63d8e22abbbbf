/* nledl.h: a private, dlopen-ed copy of NLE's libnethack.so per game instance.
 *
 * This is Maestro's own equivalent of NLE's sys/unix/nledl.c: it never calls exit(), it returns
 * errors as strings, and it keeps the observation buffers in one mapping for the life of the
 * instance. The struct layouts mirror include/nletypes.h of NLE >= 1.2.0 (LP64); static
 * assertions in nledl.c pin every offset. All names start with gonle_ so that none of them can
 * take over a symbol the game looks up. */
#ifndef GONLE_NLEDL_H
#define GONLE_NLEDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Observation sizes (nletypes.h). */
#define GONLE_ROWS 21
#define GONLE_COLS 79
#define GONLE_MESSAGE 256
#define GONLE_BLSTATS 27
#define GONLE_PROGRAM_STATE 6
#define GONLE_INTERNAL 9
#define GONLE_MISC 3
#define GONLE_INVENTORY 55
#define GONLE_INV_STR 80
#define GONLE_SCREEN_DESC 80
#define GONLE_TERM_LI 24
#define GONLE_TERM_CO 80

/* Observation keys, as bits of a request mask. */
enum {
    GONLE_K_GLYPHS = 1 << 0,
    GONLE_K_CHARS = 1 << 1,
    GONLE_K_COLORS = 1 << 2,
    GONLE_K_SPECIALS = 1 << 3,
    GONLE_K_BLSTATS = 1 << 4,
    GONLE_K_MESSAGE = 1 << 5,
    GONLE_K_PROGRAM_STATE = 1 << 6,
    GONLE_K_INTERNAL = 1 << 7,
    GONLE_K_INV_GLYPHS = 1 << 8,
    GONLE_K_INV_STRS = 1 << 9,
    GONLE_K_INV_LETTERS = 1 << 10,
    GONLE_K_INV_OCLASSES = 1 << 11,
    GONLE_K_SCREEN_DESCRIPTIONS = 1 << 12,
    GONLE_K_TTY_CHARS = 1 << 13,
    GONLE_K_TTY_COLORS = 1 << 14,
    GONLE_K_TTY_CURSOR = 1 << 15,
    GONLE_K_MISC = 1 << 16,
    GONLE_K_ALL = (1 << 17) - 1,
};

typedef struct gonle_obs {
    int action;
    int done;
    char in_normal_game;
    int how_done;
    short *glyphs;
    unsigned char *chars;
    unsigned char *colors;
    unsigned char *specials;
    long *blstats;
    unsigned char *message;
    int *program_state;
    int *internal;
    short *inv_glyphs;
    unsigned char *inv_strs;
    unsigned char *inv_letters;
    unsigned char *inv_oclasses;
    unsigned char *screen_descriptions;
    unsigned char *tty_chars;
    signed char *tty_colors;
    unsigned char *tty_cursor;
    int *misc;
} gonle_obs;

typedef struct gonle_seeds_init {
    unsigned long seeds[2]; /* core, disp */
    char reseed;
    bool use_init_seeds;
    unsigned long lgen_seed;
    bool use_lgen_seed;
} gonle_seeds_init;

/* nle_settings. The last three fields exist from NLE 1.3.0 on; older libraries copy only the
 * bytes they know, so passing the longer struct is safe. */
typedef struct gonle_settings {
    char hackdir[4096];
    char scoreprefix[4096];
    char options[32768];
    char wizkit[4096];
    int spawn_monsters;
    char ttyrecname[4096];
    gonle_seeds_init initial_seeds;
    bool fix_moon_phase;
    unsigned long time_seed;
    bool time_seed_is_set;
} gonle_settings;

typedef struct gonle gonle;

struct gonle {
    int memfd;        /* the private copy of the library, kept open for resets */
    char dlpath[64];  /* /proc/self/fd/N */
    void *dl;         /* the loaded copy, or NULL */
    void *ctx;        /* nle_ctx_t*, or NULL when no game runs */
    void *(*start)(gonle_obs *, FILE *, gonle_settings *);
    void *(*step)(void *, gonle_obs *);
    void (*end)(void *);
    void (*set_seed)(void *, unsigned long, unsigned long, signed char, unsigned long);
    void (*get_seed)(void *, unsigned long *, unsigned long *, signed char *, unsigned long *,
                     bool *);
    int has_fixed_time; /* the library knows fix_moon_phase (NLE >= 1.3.0) */
    int used;           /* a game was started on the loaded copy: reload before the next */
    FILE *ttyrec;
    void *bufs;       /* one mapping holding every observation buffer */
    size_t bufs_len;
    gonle_obs obs;
    gonle_settings settings;
};

/* gonle_new copies the library at libpath into a memfd, loads it and checks that it is NLE with
 * an ABI of 1.2.0 or later. keys selects the observation buffers (GONLE_K_*). On failure it
 * returns NULL and writes a message into err. */
gonle *gonle_new(const char *libpath, unsigned keys, char *err, size_t errlen);

/* gonle_start ends the running game (if any), reloads a fresh copy of the library when one ran,
 * and starts a new game with inst->settings. ttyrec is a path to append a bz2 ttyrec to, or
 * NULL/"" for none. Initial seeds apply to this start only. Returns 0, or -1 with err set. */
int gonle_start(gonle *inst, const char *ttyrec, char *err, size_t errlen);

/* gonle_step sends one key. Returns obs.done, or -1 when no game runs or the game is done. */
int gonle_step(gonle *inst, int action);

/* gonle_step_batch steps n instances once each: done[i] = gonle_step(insts[i], actions[i]). */
void gonle_step_batch(gonle **insts, const int *actions, int *done, int n);

/* gonle_end ends the running game, if any, and unloads the library copy. */
void gonle_end(gonle *inst);

/* gonle_free ends the game, releases everything, and makes the observation buffers
 * inaccessible (any later read through a stale view faults loudly instead of reading freed
 * memory). */
void gonle_free(gonle *inst);

int gonle_set_seed(gonle *inst, unsigned long core, unsigned long disp, int reseed,
                   unsigned long lgen);
int gonle_get_seed(gonle *inst, unsigned long *core, unsigned long *disp, int *reseed,
                   unsigned long *lgen, int *lgen_in_use);

#endif
