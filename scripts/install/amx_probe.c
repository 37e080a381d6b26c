/* Exits 0 when this process may run AMX tile instructions, non-zero (or dies
 * of SIGILL/SIGSEGV) when not. Some virtual machines report AMX in CPUID,
 * and grant the permission, but fault on the first tile instruction: a
 * llama.cpp built with -march=native then crashes on its first matrix
 * multiplication. llama-wheel.sh compiles AMX out where this fails. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int main(void) {
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return 2;
    uint8_t config[64];
    memset(config, 0, sizeof config);
    config[0] = 1;   /* palette 1 */
    config[16] = 64; /* tile 0: 64 bytes a row */
    config[48] = 16; /* tile 0: 16 rows */
    _tile_loadconfig(config);
    _tile_zero(0);
    _tile_release();
    return 0;
}
