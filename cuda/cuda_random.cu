/*
** cuda_random.cu - uniform / normal / randint fills from the Philox4x32-10
** stream of backend.h (cuRAND's curand_Philox4x32_10 block function, one
** thread per 4-word block), and the fused optimizer steps (SGD, Adam/AdamW,
** RMSprop) with PyTorch's single-tensor arithmetic: float32 math (float64
** for float64 params) with scalars computed in double on the host.
** Conversions spell out every rounding (__fmaf_rn, __fmul_rn) exactly as
** engine/cpu_random.c does, so uniform streams are bit-identical to the CPU's
** and normal ones differ only by sinf/cosf/logf ulps.
*/
#include <curand_philox4x32_x.h>
#include <math.h>
#include <type_traits>
#include "cuda_kernels.cuh"

/* ---------------------------------------------------------------- rng */

#define LT_2POW32_INV 2.3283064e-10f                  /* CURAND_2POW32_INV */
#define LT_2POW32_INV_2PI (2.3283064e-10f * 6.2831855f) /* CURAND_2POW32_INV_2PI */

/* The CPU's formulas (engine/cpu_random.c) op for op: uniform in (0, 1]
** with 1 -> 0, Box-Muller with v = fmaf(y, 2^-32 2pi, 2^-32 pi), then
** value = fmaf(f, scale, shift) in float32, widened for float64. */
__device__ inline float rng_uniform(unsigned x) {
  return __fmaf_rn(__uint2float_rn(x), LT_2POW32_INV, LT_2POW32_INV / 2.0f);
}

__device__ inline uint4 rng_block(uint64_t c, unsigned sub, uint2 key) {
  return curand_Philox4x32_10(make_uint4((unsigned)c, (unsigned)(c >> 32), sub, 0u), key);
}

template <typename T>
__global__ void rng_kernel(int kind, T *out, int64_t n, uint2 key, uint64_t offset, float scale,
                           float shift, int64_t low, uint64_t range) {
  int64_t nblk = (n + 3) / 4;
  LT_GRID_LOOP(blk, nblk) {
    uint4 r = rng_block(offset + (uint64_t)blk, 0u, key);
    unsigned w[4] = {r.x, r.y, r.z, r.w};
    int64_t i0 = blk * 4;
    int m = n - i0 < 4 ? (int)(n - i0) : 4;
    if (kind == LT_RNG_RANDINT) {
      unsigned hw[4] = {0, 0, 0, 0};
      if (range > 0x100000000ull) {  /* high words from subsequence 1 */
        uint4 h = rng_block(offset + (uint64_t)blk, 1u, key);
        hw[0] = h.x; hw[1] = h.y; hw[2] = h.z; hw[3] = h.w;
      }
      for (int j = 0; j < m; j++) {
        uint64_t x = ((uint64_t)hw[j] << 32) | w[j];
        out[i0 + j] = lt_to<T>((int64_t)((uint64_t)low + x % range));
      }
      continue;
    }
    float f[4];
    if (kind == LT_RNG_UNIFORM) {
      for (int j = 0; j < 4; j++) {
        f[j] = rng_uniform(w[j]);
        if (f[j] == 1.0f) f[j] = 0.0f;
      }
    } else {
      for (int j = 0; j < 4; j += 2) {
        float u = rng_uniform(w[j]);
        float v = __fmaf_rn(__uint2float_rn(w[j + 1]), LT_2POW32_INV_2PI, LT_2POW32_INV_2PI / 2.0f);
        float s = sqrtf(__fmul_rn(-2.0f, logf(u)));
        f[j] = __fmul_rn(sinf(v), s);
        f[j + 1] = __fmul_rn(cosf(v), s);
      }
    }
    for (int j = 0; j < m; j++) out[i0 + j] = lt_to<T>(__fmaf_rn(f[j], scale, shift));
  }
}

lt_status lt_cuda_rng(lt_rng_kind kind, void *out, lt_dtype dt, int64_t n, lt_philox_state st,
                      double a, double b) {
  if (n <= 0) return LT_OK;
  if (kind != LT_RNG_UNIFORM && kind != LT_RNG_NORMAL && kind != LT_RNG_RANDINT)
    return lt_cuda_err(LT_ERR_ARG, "cuda rng: bad kind %d", (int)kind);
  int64_t low = 0;
  uint64_t range = 1;
  if (kind == LT_RNG_RANDINT) {
    if (!(b > a) || a < -9.2e18 || b > 9.2e18)
      return lt_cuda_err(LT_ERR_ARG, "randint: empty or out-of-range interval [%g, %g)", a, b);
    low = (int64_t)a;
    range = (uint64_t)((int64_t)b - low);
  }
  float scale = (float)(kind == LT_RNG_UNIFORM ? b - a : b), shift = (float)a;
  uint2 key = make_uint2((unsigned)st.seed, (unsigned)(st.seed >> 32));
  int64_t nblk = (n + 3) / 4;
  LT_DISPATCH_ALL(dt, "rng",
                  rng_kernel<scalar_t><<<lt_blocks(nblk), LT_THREADS, 0, lt_cuda_stream>>>(
                      (int)kind, (scalar_t *)out, n, key, st.offset, scale, shift, low, range));
  LT_CUDA_LAUNCHED("rng");
  return LT_OK;
}

/* ---------------------------------------------------------------- optimizers */

template <typename T>
__global__ void sgd_step_kernel(T *p, const T *g, T *buf, int64_t n, typename lt_acc<T>::type lr,
                                typename lt_acc<T>::type momentum,
                                typename lt_acc<T>::type one_minus_damp,
                                typename lt_acc<T>::type wd, bool nesterov, bool maximize,
                                bool first) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(i, n) {
    A pv = lt_to<A>(p[i]);
    A d = lt_to<A>(g[i]);
    if (maximize) d = -d;
    if (wd != 0) d = d + wd * pv;
    if (momentum != 0) {
      A bv;
      if (first) bv = d;
      else bv = lt_to<A>(buf[i]) * momentum + one_minus_damp * d;
      buf[i] = lt_to<T>(bv);
      bv = lt_to<A>(buf[i]);
      d = nesterov ? d + momentum * bv : bv;
    }
    p[i] = lt_to<T>(pv - lr * d);
  }
}

lt_status lt_cuda_sgd_step(void *p, const void *g, void *buf, lt_dtype dt, int64_t n, double lr,
                           double momentum, double dampening, double wd, bool nesterov,
                           bool maximize, bool first) {
  if (n <= 0) return LT_OK;
  if (momentum != 0 && !buf)
    return lt_cuda_err(LT_ERR_ARG, "cuda sgd_step: momentum needs a buffer");
  LT_DISPATCH_FLOAT(dt, "sgd_step", {
    typedef typename lt_acc<scalar_t>::type A;
    sgd_step_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
        (scalar_t *)p, (const scalar_t *)g, (scalar_t *)buf, n, (A)lr, (A)momentum,
        (A)(1 - dampening), (A)wd, nesterov, maximize, first);
  });
  LT_CUDA_LAUNCHED("sgd_step");
  return LT_OK;
}

/* lerp as in PyTorch: weight < 0.5 ? a + w (b - a) : b - (b - a)(1 - w) */
template <typename A> __device__ inline A lerp_(A a, A b, A w) {
  return w < (A)0.5 ? a + w * (b - a) : b - (b - a) * ((A)1 - w);
}

template <typename T>
__global__ void adam_step_kernel(T *p, const T *g, T *m, T *v, T *vmax, int64_t n,
                                 typename lt_acc<T>::type lr, typename lt_acc<T>::type one_m_b1,
                                 typename lt_acc<T>::type beta2, typename lt_acc<T>::type one_m_b2,
                                 typename lt_acc<T>::type eps, typename lt_acc<T>::type wd,
                                 typename lt_acc<T>::type decay, typename lt_acc<T>::type step_size,
                                 typename lt_acc<T>::type bc2_sqrt, bool decoupled,
                                 bool maximize) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(i, n) {
    A pv = lt_to<A>(p[i]);
    A gv = lt_to<A>(g[i]);
    if (maximize) gv = -gv;
    if (wd != 0) {
      if (decoupled) pv = pv * decay;
      else gv = gv + wd * pv;
    }
    A mv = lerp_<A>(lt_to<A>(m[i]), gv, one_m_b1);
    A vv = lt_to<A>(v[i]) * beta2 + one_m_b2 * gv * gv;
    m[i] = lt_to<T>(mv);
    v[i] = lt_to<T>(vv);
    mv = lt_to<A>(m[i]);
    vv = lt_to<A>(v[i]);
    if (vmax) {
      A mx = lt_to<A>(vmax[i]);
      if (vv > mx || vv != vv) mx = vv;
      vmax[i] = lt_to<T>(mx);
      vv = lt_to<A>(vmax[i]);
    }
    A denom = sqrt(vv) / bc2_sqrt + eps;
    p[i] = lt_to<T>(pv + (-step_size) * mv / denom);
  }
}

lt_status lt_cuda_adam_step(void *p, const void *g, void *m, void *v, void *vmax, lt_dtype dt,
                            int64_t n, double lr, double beta1, double beta2, double eps,
                            double wd, bool decoupled, bool maximize, int64_t step) {
  if (n <= 0) return LT_OK;
  if (step < 1) return lt_cuda_err(LT_ERR_ARG, "cuda adam_step: step must be >= 1, got %lld",
                                   (long long)step);
  double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);
  double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
  LT_DISPATCH_FLOAT(dt, "adam_step", {
    typedef typename lt_acc<scalar_t>::type A;
    adam_step_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
        (scalar_t *)p, (const scalar_t *)g, (scalar_t *)m, (scalar_t *)v, (scalar_t *)vmax, n,
        (A)lr, (A)(1 - beta1), (A)beta2, (A)(1 - beta2), (A)eps, (A)wd, (A)(1 - lr * wd),
        (A)step_size, (A)bc2_sqrt, decoupled, maximize);
  });
  LT_CUDA_LAUNCHED("adam_step");
  return LT_OK;
}

template <typename T>
__global__ void rmsprop_step_kernel(T *p, const T *g, T *sq, T *buf, T *gavg, int64_t n,
                                    typename lt_acc<T>::type lr, typename lt_acc<T>::type alpha,
                                    typename lt_acc<T>::type one_m_alpha,
                                    typename lt_acc<T>::type eps, typename lt_acc<T>::type wd,
                                    typename lt_acc<T>::type momentum, bool maximize) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(i, n) {
    A pv = lt_to<A>(p[i]);
    A gv = lt_to<A>(g[i]);
    if (maximize) gv = -gv;
    if (wd != 0) gv = gv + wd * pv;
    A s = lt_to<A>(sq[i]) * alpha + one_m_alpha * gv * gv;
    sq[i] = lt_to<T>(s);
    s = lt_to<A>(sq[i]);
    A avg;
    if (gavg) {
      A ga = lerp_<A>(lt_to<A>(gavg[i]), gv, one_m_alpha);
      gavg[i] = lt_to<T>(ga);
      ga = lt_to<A>(gavg[i]);
      avg = sqrt(s + (-ga) * ga);
    } else {
      avg = sqrt(s);
    }
    avg = avg + eps;
    if (momentum > 0) {
      A b = lt_to<A>(buf[i]) * momentum + gv / avg;
      buf[i] = lt_to<T>(b);
      b = lt_to<A>(buf[i]);
      p[i] = lt_to<T>(pv + (-lr) * b);
    } else {
      p[i] = lt_to<T>(pv + (-lr) * (gv / avg));
    }
  }
}

lt_status lt_cuda_rmsprop_step(void *p, const void *g, void *sq, void *buf, void *gavg,
                               lt_dtype dt, int64_t n, double lr, double alpha, double eps,
                               double wd, double momentum, bool maximize) {
  if (n <= 0) return LT_OK;
  if (momentum > 0 && !buf)
    return lt_cuda_err(LT_ERR_ARG, "cuda rmsprop_step: momentum needs a buffer");
  LT_DISPATCH_FLOAT(dt, "rmsprop_step", {
    typedef typename lt_acc<scalar_t>::type A;
    rmsprop_step_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
        (scalar_t *)p, (const scalar_t *)g, (scalar_t *)sq, (scalar_t *)buf, (scalar_t *)gavg, n,
        (A)lr, (A)alpha, (A)(1 - alpha), (A)eps, (A)wd, (A)momentum, maximize);
  });
  LT_CUDA_LAUNCHED("rmsprop_step");
  return LT_OK;
}
