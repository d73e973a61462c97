"""An independent numpy implementation of ggml's reference K-quantizers (quantize_row_q{4,5,6}_K_ref and
their scale searches make_qkx2_quants and make_qx_quants in ggml-quants.c), for crosscheck_gguf.py: the
`gguf` package has none. Every float32 operation keeps ggml's order (sums run element by element, in
float32); the work is vectorized across blocks only, so the results are bit-exact.
"""
import numpy as np

F = np.float32
QK_K = 256


def nearest_int(v):
    """ggml's nearest_int: round half to even through the 1.5 * 2^23 trick."""
    return (((v.astype(F) + F(12582912.0)).view(np.int32)) & 0x007FFFFF) - 0x00400000


def fp16_bits(v):
    return np.asarray(v, F).astype(np.float16).view(np.uint16)


def fp16_value(bits):
    return bits.view(np.float16).astype(F)


def make_qkx2_quants(nmax, x, w, rmin, rdelta, nstep):
    """x, w: [G, n] float32. Returns (scale [G], the_min [G], L [G, n] uint8)."""
    n = x.shape[1]
    mn, mx = x[:, 0].copy(), x[:, 0].copy()
    sum_w = w[:, 0].copy()
    sum_x = sum_w * x[:, 0]
    for i in range(1, n):
        mn = np.where(x[:, i] < mn, x[:, i], mn)
        mx = np.where(x[:, i] > mx, x[:, i], mx)
        sum_w = sum_w + w[:, i]
        sum_x = sum_x + w[:, i] * x[:, i]
    mn = np.where(mn > 0, F(0), mn)
    flat = mx == mn
    rng = np.where(flat, F(1), mx - mn)
    iscale = F(nmax) / rng
    scale = F(1) / iscale
    L = np.clip(nearest_int(iscale[:, None] * (x - mn[:, None])), 0, nmax)
    best = np.zeros_like(mn)
    for i in range(n):
        diff = scale * L[:, i].astype(F) + mn - x[:, i]
        best = best + w[:, i] * (diff * diff)
    for step in range(nstep + 1):
        # ggml divides by max - min with the min of the best candidate so far.
        rng = np.where(flat, F(1), mx - mn)
        iscale = (F(rmin) + F(rdelta) * F(step) + F(nmax)) / rng
        laux = np.clip(nearest_int(iscale[:, None] * (x - mn[:, None])), 0, nmax)
        sum_l = np.zeros_like(mn)
        sum_l2 = np.zeros_like(mn)
        sum_xl = np.zeros_like(mn)
        for i in range(n):
            lf = laux[:, i].astype(F)
            sum_l = sum_l + w[:, i] * lf
            sum_l2 = sum_l2 + w[:, i] * lf * lf
            sum_xl = sum_xl + w[:, i] * lf * x[:, i]
        D = sum_w * sum_l2 - sum_l * sum_l
        ok = D > 0
        Ds = np.where(ok, D, F(1))
        this_scale = (sum_w * sum_xl - sum_x * sum_l) / Ds
        this_min = (sum_l2 * sum_x - sum_l * sum_xl) / Ds
        pos = this_min > 0
        this_min = np.where(pos, F(0), this_min)
        with np.errstate(divide="ignore", invalid="ignore"):
            this_scale = np.where(pos, sum_xl / sum_l2, this_scale)
        cur = np.zeros_like(mn)
        for i in range(n):
            diff = this_scale * laux[:, i].astype(F) + this_min - x[:, i]
            cur = cur + w[:, i] * (diff * diff)
        better = ok & (cur < best) & ~flat
        L = np.where(better[:, None], laux, L)
        best = np.where(better, cur, best)
        scale = np.where(better, this_scale, scale)
        mn = np.where(better, this_min, mn)
    L = np.where(flat[:, None], 0, L)
    scale = np.where(flat, F(0), scale)
    return scale.astype(F), (-mn).astype(F), L.astype(np.uint8)


def _k_scales(x, nmax, rmin, rdelta, nstep):
    """What q4_K and q5_K share. x: [B, 256]. Returns (head [B, 16] uint8, L [B, 256])."""
    B = x.shape[0]
    sub = x.reshape(B * 8, 32)
    sum_x2 = np.zeros(B * 8, F)
    for l in range(32):
        sum_x2 = sum_x2 + sub[:, l] * sub[:, l]
    av_x = np.sqrt(sum_x2 / F(32))
    weights = av_x[:, None] + np.abs(sub)
    scales, mins, L = make_qkx2_quants(nmax, sub, weights, rmin, rdelta, nstep)
    scales, mins, L = scales.reshape(B, 8), mins.reshape(B, 8), L.reshape(B, 256).astype(np.int32)
    max_scale = np.zeros(B, F)
    max_min = np.zeros(B, F)
    for j in range(8):
        max_scale = np.where(scales[:, j] > max_scale, scales[:, j], max_scale)
        max_min = np.where(mins[:, j] > max_min, mins[:, j], max_min)
    with np.errstate(divide="ignore"):
        inv_scale = np.where(max_scale > 0, F(63) / max_scale, F(0))
        inv_min = np.where(max_min > 0, F(63) / max_min, F(0))
    sc = np.zeros((B, 12), np.uint8)
    for j in range(8):
        ls = np.minimum(nearest_int(inv_scale * scales[:, j]).astype(np.uint8), 63)
        lm = np.minimum(nearest_int(inv_min * mins[:, j]).astype(np.uint8), 63)
        if j < 4:
            sc[:, j] = ls
            sc[:, j + 4] = lm
        else:
            sc[:, j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
            sc[:, j - 4] |= (ls >> 4) << 6
            sc[:, j] |= (lm >> 4) << 6
    d = fp16_bits(max_scale / F(63))
    dmin = fp16_bits(max_min / F(63))
    d_all, dmin_all = fp16_value(d), fp16_value(dmin)
    for j in range(8):
        if j < 4:
            s, m = sc[:, j] & 63, sc[:, j + 4] & 63
        else:
            s = (sc[:, j + 4] & 0xF) | ((sc[:, j - 4] >> 6) << 4)
            m = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
        dd = d_all * s.astype(F)
        dm = dmin_all * m.astype(F)
        ok = dd != 0
        q = np.clip(nearest_int((x[:, 32 * j:32 * j + 32] + dm[:, None]) / np.where(ok, dd, F(1))[:, None]), 0, nmax)
        L[:, 32 * j:32 * j + 32] = np.where(ok[:, None], q, L[:, 32 * j:32 * j + 32])
    head = np.concatenate([d.view(np.uint8).reshape(B, 2), dmin.view(np.uint8).reshape(B, 2), sc], axis=1)
    return head, L


def quantize_q4_k(x):
    x = np.ascontiguousarray(x, F).reshape(-1, QK_K)
    head, L = _k_scales(x, 15, -1.0, 0.1, 20)
    qs = [(L[:, j + l] | (L[:, j + l + 32] << 4)) for j in range(0, QK_K, 64) for l in range(32)]
    return np.concatenate([head, np.stack(qs, axis=1).astype(np.uint8)], axis=1)


def quantize_q5_k(x):
    x = np.ascontiguousarray(x, F).reshape(-1, QK_K)
    head, L = _k_scales(x, 31, -0.5, 0.1, 15)
    B = x.shape[0]
    qh = np.zeros((B, 32), np.uint8)
    ql = np.zeros((B, 128), np.uint8)
    m1, m2 = 1, 2
    for k, n in enumerate(range(0, QK_K, 64)):
        for j in range(32):
            l1, l2 = L[:, n + j], L[:, n + j + 32]
            qh[:, j] |= np.where(l1 > 15, m1, 0).astype(np.uint8) | np.where(l2 > 15, m2, 0).astype(np.uint8)
            ql[:, 32 * k + j] = ((l1 & 15) | ((l2 & 15) << 4)).astype(np.uint8)
        m1, m2 = m1 << 2, m2 << 2
    return np.concatenate([head, qh, ql], axis=1)


def make_qx_quants_rmse1(nmax, x):
    """x: [G, n]. ggml's make_qx_quants with rmse_type 1 and no weights: (scale [G], L [G, n])."""
    G, n = x.shape
    amax = np.zeros(G, F)
    mx = np.zeros(G, F)
    for i in range(n):
        ax = np.abs(x[:, i])
        bigger = ax > amax
        amax = np.where(bigger, ax, amax)
        mx = np.where(bigger, x[:, i], mx)
    zero = amax < F(1e-15)
    mxs = np.where(zero, F(1), mx)
    w = x * x

    def levels(iscale):
        return np.clip(nearest_int(iscale[:, None] * x), -nmax, nmax - 1)

    def sums(l):
        sumlx = np.zeros(G, F)
        suml2 = np.zeros(G, F)
        for i in range(n):
            lf = l[:, i].astype(F)
            sumlx = sumlx + w[:, i] * x[:, i] * lf
            suml2 = suml2 + w[:, i] * lf * lf
        return sumlx, suml2

    iscale = F(-nmax) / mxs
    l = levels(iscale)
    L = l + nmax
    sumlx, suml2 = sums(l)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 != 0, sumlx / suml2, F(0))
    best = scale * sumlx
    for step in range(-9, 10):
        if step == 0:
            continue
        iscale = -(F(nmax) + F(0.1) * F(step)) / mxs
        l = levels(iscale)
        sumlx, suml2 = sums(l)
        better = (suml2 > 0) & (sumlx * sumlx > best * suml2)
        with np.errstate(divide="ignore", invalid="ignore"):
            new_scale = sumlx / suml2
        L = np.where(better[:, None], l + nmax, L)
        scale = np.where(better, new_scale, scale)
        best = np.where(better, scale * sumlx, best)
    L = np.where(zero[:, None], 0, L)
    scale = np.where(zero, F(0), scale)
    return scale.astype(F), L.astype(np.int32)


def quantize_q6_k(x):
    x = np.ascontiguousarray(x, F).reshape(-1, QK_K)
    B = x.shape[0]
    scales, L = make_qx_quants_rmse1(32, x.reshape(B * 16, 16))
    scales, L = scales.reshape(B, 16), L.reshape(B, 256)
    max_scale = np.zeros(B, F)
    max_abs = np.zeros(B, F)
    for ib in range(16):
        a = np.abs(scales[:, ib])
        bigger = a > max_abs
        max_abs = np.where(bigger, a, max_abs)
        max_scale = np.where(bigger, scales[:, ib], max_scale)
    zero = max_abs < F(1e-15)
    iscale = F(-128) / np.where(zero, F(1), max_scale)
    d = fp16_bits(F(1) / iscale)
    sc = np.minimum(127, nearest_int(iscale[:, None] * scales)).astype(np.int8)
    d_all = fp16_value(d)
    for j in range(16):
        dd = d_all * sc[:, j].astype(F)
        ok = dd != 0
        q = np.clip(nearest_int(x[:, 16 * j:16 * j + 16] / np.where(ok, dd, F(1))[:, None]), -32, 31) + 32
        L[:, 16 * j:16 * j + 16] = np.where(ok[:, None], q, L[:, 16 * j:16 * j + 16])
    ql = np.zeros((B, 128), np.uint8)
    qh = np.zeros((B, 64), np.uint8)
    for half, j in enumerate(range(0, QK_K, 128)):
        for l in range(32):
            q1, q2, q3, q4 = (L[:, j + l + 32 * k] for k in range(4))
            ql[:, 64 * half + l] = ((q1 & 0xF) | ((q3 & 0xF) << 4)).astype(np.uint8)
            ql[:, 64 * half + l + 32] = ((q2 & 0xF) | ((q4 & 0xF) << 4)).astype(np.uint8)
            qh[:, 32 * half + l] = ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)).astype(np.uint8)
    out = np.concatenate([ql, qh, sc.view(np.uint8), d.view(np.uint8).reshape(B, 2)], axis=1)
    out[zero] = 0
    return out


QUANTIZERS = {"q4_K": quantize_q4_k, "q5_K": quantize_q5_k, "q6_K": quantize_q6_k}
