#!/usr/bin/env python3
"""Rewrites the scheduling control bits of the promotion FFMAs in the block-scaled wgmma kernels of a
compiled gemm_wgmma.cu.o, in place of a recompilation, to measure DeepGEMM's "FFMA interleave" idea on
lowbit's kernel (issue 8; measured and not kept: bench/RESULTS.md, "Block-scaled fp8: the FFMAs' yield
bits"). Standard library only; no cuobjdump needed.

    python3 ffma_control_bits.py IN.o OUT.o MODE

MODE: `yield-all` clears the operand-reuse flags of every reusing FFMA in a run of 8 or more and clears
its control bit 45 (ptxas sets it on every FFMA that carries a reuse flag, whose operand cache needs the
same warp next; clearing it lets the scheduler switch warps); `yield-head` does the same in the first 9/16 of each run only (DeepGEMM's share); `stay` sets bit 45
on every FFMA of such runs and keeps the reuse flags.

The object's .nv_fatbin section holds the sm_90a cubin uncompressed (nvcc 13's default); instructions are
16 bytes, the opcode in the low 12 bits (0x223: FFMA with four registers), the control word in bits 41-63
of the high 8 bytes (stall 41-44, bit 45, barriers 46-57, reuse flags 58-61). Only kernels whose mangled
name has `Lb1E` (the BlockScaled template argument) are touched.
"""
import struct
import sys

FFMA = 0x223
BIT45 = 1 << 45
REUSE = 0xF << 58


def sections(buf, base):
    """(name, file offset, size) of each section of the ELF64 image starting at buf[base]."""
    shoff, = struct.unpack_from('<Q', buf, base + 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', buf, base + 0x3A)
    raw = [struct.unpack_from('<IIQQQQ', buf, base + shoff + i * shentsize) for i in range(shnum)]
    names = base + raw[shstrndx][4]
    result = []
    for name, _, _, _, offset, size in raw:
        end = buf.index(b'\0', names + name)
        result.append((buf[names + name:end].decode(), base + offset, size))
    return result


def cubins(buf):
    """Offsets of the CUDA ELF images (e_machine 190) inside the host object's .nv_fatbin section."""
    fatbin = [s for s in sections(buf, 0) if s[0] == '.nv_fatbin']
    if len(fatbin) != 1:
        sys.exit('no .nv_fatbin section: is this an nvcc object?')
    _, start, size = fatbin[0]
    found, at = [], buf.find(b'\x7fELF', start, start + size)
    while at >= 0:
        if struct.unpack_from('<H', buf, at + 0x12)[0] == 190:
            found.append(at)
        at = buf.find(b'\x7fELF', at + 4, start + size)
    return found


def rewrite(buf, offset, count, mode):
    """Rewrites the FFMA runs of one kernel's .text; returns the number of instructions changed."""
    is_ffma = [struct.unpack_from('<Q', buf, offset + 16 * i)[0] & 0xFFF == FFMA for i in range(count)]
    changed, i = 0, 0
    while i < count:
        if not is_ffma[i]:
            i += 1
            continue
        j = i
        while j < count and is_ffma[j]:
            j += 1
        if j - i >= 8:
            end = i + (j - i) * 9 // 16 if mode == 'yield-head' else j
            for k in range(i, end):
                at = offset + 16 * k + 8
                high, = struct.unpack_from('<Q', buf, at)
                if mode == 'stay':
                    new = high | BIT45
                elif high & REUSE:
                    new = high & ~REUSE & ~BIT45
                else:
                    new = high
                if new != high:
                    struct.pack_into('<Q', buf, at, new)
                    changed += 1
        i = j
    return changed


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ('yield-all', 'yield-head', 'stay'):
        sys.exit(__doc__)
    buf = bytearray(open(sys.argv[1], 'rb').read())
    for cubin in cubins(buf):
        for name, offset, size in sections(buf, cubin):
            if name.startswith('.text.') and 'Lb1E' in name:
                print(f'{rewrite(buf, offset, size // 16, sys.argv[3]):5d} changed in {name[6:]}')
    open(sys.argv[2], 'wb').write(buf)


if __name__ == '__main__':
    main()
