"""Compiler flags for building llama.cpp for this CPU (-march=native), and why.

Some virtual machines report AMX in CPUID, and grant the permission, but
fault on the first tile instruction: a llama.cpp built with -march=native
then crashes (SIGSEGV/SIGILL) on its first quantized matrix multiplication.
Where the CPU reports AMX, a tiny probe is compiled and run; if it fails, AMX
is compiled out. Used by scripts/install/llama-wheel.sh (the engine's wheel)
and codefill/bench/llama_server.py (llama.cpp's own server), so both run the
same kernels. Standard library only: it runs before anything is installed
(`python3 codefill/native_flags.py` prints the flags).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

_PROBE = r"""
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
int main(void) {
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 2;
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
"""


def reports_amx() -> bool:
    try:
        return "amx_tile" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def amx_works() -> bool:
    """Whether this process may run AMX tile instructions (compiles and runs the probe)."""
    with tempfile.TemporaryDirectory(prefix="codefill-amx-") as tmp:
        src, exe = Path(tmp) / "probe.c", Path(tmp) / "probe"
        src.write_text(_PROBE)
        cc = os.environ.get("CC", "cc")
        try:
            subprocess.run([cc, "-O1", "-mamx-tile", "-o", str(exe), str(src)], check=True,
                           capture_output=True, timeout=120)
            return subprocess.run([str(exe)], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False


def native_flags() -> str:
    """Extra C/C++ flags for a -march=native llama.cpp build here ("" when none are needed)."""
    return NO_AMX if reports_amx() and not amx_works() else ""


if __name__ == "__main__":
    print(native_flags())
