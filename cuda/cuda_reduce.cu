/*
** cuda_reduce.cu - every lt_reduce_op over any set of dims, no permute:
** each output element is owned by a group of G threads (G = 256 down to 1,
** G = 1 when the reduced dims are strided and the kept ones contiguous),
** each thread walks its share in order, the group combines in a fixed tree;
** large reductions with few outputs split into chunks whose partials a
** second kernel combines in order. No atomics: results are deterministic.
** Float inputs accumulate in float (double for float64), integers in int64.
*/
#include <type_traits>
#include "cuda_kernels.cuh"

struct red_geo {
  int nk, nr;
  int64_t kshape[LT_MAX_DIMS], kin[LT_MAX_DIMS], kout[LT_MAX_DIMS], kidx[LT_MAX_DIMS];
  int64_t rshape[LT_MAX_DIMS], rin[LT_MAX_DIMS];
  int64_t num_out, num_red;
};

template <typename A> struct red_acc {
  A a, b, c;
  int64_t i;  /* index (max/min) or count (var) */
};

template <typename T> struct red_type { typedef typename lt_acc<T>::type type; };
template <> struct red_type<int32_t> { typedef int64_t type; };
template <> struct red_type<uint8_t> { typedef int64_t type; };
template <> struct red_type<bool> { typedef int64_t type; };

template <typename A> __device__ inline bool r_isnan(A x) {
  if constexpr (std::is_floating_point<A>::value) return isnan(x); else return false;
}
template <typename A> __device__ inline A r_inf() {
  if constexpr (std::is_floating_point<A>::value) return (A)INFINITY;
  else return (A)INT64_MAX;
}

template <typename A> __device__ inline red_acc<A> r_init(int op, double p) {
  red_acc<A> r;
  r.a = 0; r.b = 0; r.c = 0; r.i = 0;
  switch (op) {
    case LT_REDUCE_PROD: case LT_REDUCE_ALL: r.a = 1; break;
    case LT_REDUCE_MAX: case LT_REDUCE_MIN: case LT_REDUCE_ARGMAX: case LT_REDUCE_ARGMIN:
      r.i = -1; break;
    case LT_REDUCE_NORM: if (p == -INFINITY) r.a = r_inf<A>(); break;
    case LT_REDUCE_LOGSUMEXP: r.a = -r_inf<A>(); break;
    default: break;
  }
  return r;
}

/* Combines two partial results; `x` holds lower reduced indices only when
** the caller says so, so ties are broken by index explicitly. */
template <typename A>
__device__ inline red_acc<A> r_combine(int op, double p, red_acc<A> x, red_acc<A> y) {
  switch (op) {
    case LT_REDUCE_SUM: case LT_REDUCE_MEAN: x.a += y.a; return x;
    case LT_REDUCE_PROD: x.a *= y.a; return x;
    case LT_REDUCE_MAX: case LT_REDUCE_ARGMAX: case LT_REDUCE_MIN: case LT_REDUCE_ARGMIN: {
      if (x.i < 0) return y;
      if (y.i < 0) return x;
      bool nx = r_isnan(x.a), ny = r_isnan(y.a);
      if (nx || ny) {
        if (nx && ny) return y.i < x.i ? y : x;
        return nx ? x : y;
      }
      bool mx = op == LT_REDUCE_MAX || op == LT_REDUCE_ARGMAX;
      bool better = mx ? y.a > x.a : y.a < x.a;
      if (better || (y.a == x.a && y.i < x.i)) return y;
      return x;
    }
    case LT_REDUCE_VAR: case LT_REDUCE_STD: {  /* Chan et al. */
      if (y.i == 0) return x;
      if (x.i == 0) return y;
      int64_t n = x.i + y.i;
      A d = y.b - x.b;
      A fy = (A)y.i / (A)n;
      x.b = x.b + d * fy;
      x.c = x.c + y.c + d * d * (A)x.i * fy;
      x.i = n;
      return x;
    }
    case LT_REDUCE_NORM:
      if (p == INFINITY) x.a = (r_isnan(y.a) || y.a > x.a) ? y.a : x.a;
      else if (p == -INFINITY) x.a = (r_isnan(y.a) || y.a < x.a) ? y.a : x.a;
      else x.a += y.a;
      return x;
    case LT_REDUCE_LOGSUMEXP: {
      if constexpr (std::is_floating_point<A>::value) {
        A m = x.a > y.a ? x.a : y.a;
        if (r_isnan(x.a) || r_isnan(y.a)) { x.a = x.a + y.a; return x; }
        if (m == -INFINITY || m == INFINITY) { x.a = m; x.b = 1; return x; }
        x.b = x.b * exp(x.a - m) + y.b * exp(y.a - m);
        x.a = m;
      }
      return x;
    }
    case LT_REDUCE_ANY: x.a = (x.a != 0 || y.a != 0); return x;
    case LT_REDUCE_ALL: x.a = (x.a != 0 && y.a != 0); return x;
    default: return x;
  }
}

/* Adds element value v at reduced index j. */
template <typename A>
__device__ inline red_acc<A> r_push(int op, double p, red_acc<A> r, A v, int64_t j) {
  switch (op) {
    case LT_REDUCE_SUM: case LT_REDUCE_MEAN: r.a += v; return r;
    case LT_REDUCE_PROD: r.a *= v; return r;
    case LT_REDUCE_VAR: case LT_REDUCE_STD: {  /* Welford */
      r.i++;
      A d = v - r.b;
      r.b += d / (A)r.i;
      r.c += d * (v - r.b);
      return r;
    }
    case LT_REDUCE_NORM: {
      A av = v < 0 ? -v : v;
      if (p == INFINITY || p == -INFINITY) {
        red_acc<A> y = r;
        y.a = av;
        return r_combine<A>(op, p, r, y);
      }
      if (p == 0) r.a += (v != 0);
      else if (p == 1) r.a += av;
      else if (p == 2) r.a += v * v;
      else if constexpr (std::is_floating_point<A>::value) r.a += pow(av, (A)p);
      return r;
    }
    default: {
      red_acc<A> y;
      y.a = v; y.b = 1; y.c = 0; y.i = j;
      if (op == LT_REDUCE_ANY || op == LT_REDUCE_ALL) y.a = v != 0;
      return r_combine<A>(op, p, r, y);
    }
  }
}

/* Writes v into element `off` of a buffer of dtype dt. */
template <typename A> __device__ inline void store_any(void *base, lt_dtype dt, int64_t off, A v) {
  switch (dt) {
    case LT_DTYPE_F32: ((float *)base)[off] = lt_to<float>(v); break;
    case LT_DTYPE_F64: ((double *)base)[off] = lt_to<double>(v); break;
    case LT_DTYPE_BF16: ((bf16_t *)base)[off] = lt_to<bf16_t>(v); break;
    case LT_DTYPE_F16: ((f16_t *)base)[off] = lt_to<f16_t>(v); break;
    case LT_DTYPE_I64: ((int64_t *)base)[off] = lt_to<int64_t>(v); break;
    case LT_DTYPE_I32: ((int32_t *)base)[off] = lt_to<int32_t>(v); break;
    case LT_DTYPE_U8: ((uint8_t *)base)[off] = lt_to<uint8_t>(v); break;
    case LT_DTYPE_BOOL: ((bool *)base)[off] = v != 0; break;
    default: break;
  }
}

struct red_out {
  void *out;
  lt_dtype odt;
  int64_t *idx;
  int64_t base;
};

template <typename A>
__device__ inline void r_finish(int op, double p, red_acc<A> r, const red_geo &g, int64_t o,
                                const red_out &w) {
  int64_t oo = 0, io = 0, t = o;
  for (int d = g.nk - 1; d >= 0; d--) {
    int64_t c = t % g.kshape[d];
    t /= g.kshape[d];
    oo += c * g.kout[d];
    io += c * g.kidx[d];
  }
  A v = r.a;
  switch (op) {
    case LT_REDUCE_MEAN:
      if constexpr (std::is_floating_point<A>::value) v = r.a / (A)g.num_red;
      else v = g.num_red ? r.a / (A)g.num_red : 0;
      break;
    case LT_REDUCE_MAX: case LT_REDUCE_MIN:
      if (r.i < 0) {
        if constexpr (std::is_floating_point<A>::value) v = (A)NAN;
      }
      if (w.idx) w.idx[io] = (r.i < 0 ? 0 : r.i) + w.base;
      break;
    case LT_REDUCE_ARGMAX: case LT_REDUCE_ARGMIN:  /* index to out and to idx, as the CPU */
      store_any<int64_t>(w.out, w.odt, oo, (r.i < 0 ? 0 : r.i) + w.base);
      if (w.idx) w.idx[io] = (r.i < 0 ? 0 : r.i) + w.base;
      return;
    case LT_REDUCE_VAR: case LT_REDUCE_STD:
      if constexpr (std::is_floating_point<A>::value) {
        A den = (A)r.i - (A)p;
        if (den < 0) den = 0;
        v = r.c / den;
        if (r.i == 0) v = (A)NAN;
        if (op == LT_REDUCE_STD) v = sqrt(v);
      }
      break;
    case LT_REDUCE_NORM:
      if constexpr (std::is_floating_point<A>::value) {
        if (p == 2) v = sqrt(r.a);
        else if (p != 1 && p != 0 && p != INFINITY && p != -INFINITY) v = pow(r.a, (A)(1.0 / p));
      }
      break;
    case LT_REDUCE_LOGSUMEXP:
      if constexpr (std::is_floating_point<A>::value) {
        if (!(r.a == INFINITY || r.a == -INFINITY || isnan(r.a))) v = r.a + log(r.b);
      }
      break;
    default: break;
  }
  store_any<A>(w.out, w.odt, oo, v);
}

/* blockDim.x == 256; groups of G threads own (output, chunk) pairs. */
template <typename T, typename A>
__global__ void reduce_forward_kernel(int op, double p, const T *in, red_geo g, int G,
                                      int64_t chunks, int64_t chunk_len, red_acc<A> *partial,
                                      red_out w) {
  __shared__ red_acc<A> sh[LT_THREADS];
  int t = threadIdx.x, lane = t % G;
  int64_t grp = (int64_t)blockIdx.x * (LT_THREADS / G) + t / G;
  int64_t o = grp / chunks, ch = grp % chunks;
  red_acc<A> r = r_init<A>(op, p);
  bool active = o < g.num_out;
  if (active) {
    int64_t ib = 0, tt = o;
    for (int d = g.nk - 1; d >= 0; d--) {
      int64_t c = tt % g.kshape[d];
      tt /= g.kshape[d];
      ib += c * g.kin[d];
    }
    int64_t j0 = ch * chunk_len, j1 = j0 + chunk_len < g.num_red ? j0 + chunk_len : g.num_red;
    for (int64_t j = j0 + lane; j < j1; j += G) {
      int64_t off = ib, q = j;
      for (int d = g.nr - 1; d >= 0; d--) {
        int64_t c = q % g.rshape[d];
        q /= g.rshape[d];
        off += c * g.rin[d];
      }
      r = r_push<A>(op, p, r, lt_to<A>(in[off]), j);
    }
  }
  if (G > 1) {
    sh[t] = r;
    for (int st = G / 2; st > 0; st >>= 1) {
      __syncthreads();
      if (lane < st) sh[t] = r_combine<A>(op, p, sh[t], sh[t + st]);
    }
    __syncthreads();
    r = sh[t];
  }
  if (!active || lane != 0) return;
  if (chunks == 1) r_finish<A>(op, p, r, g, o, w);
  else partial[grp] = r;
}

template <typename A>
__global__ void reduce_finish_kernel(int op, double p, red_geo g, int64_t chunks,
                                     const red_acc<A> *partial, red_out w) {
  LT_GRID_LOOP(o, g.num_out) {
    red_acc<A> r = partial[o * chunks];
    for (int64_t c = 1; c < chunks; c++) r = r_combine<A>(op, p, r, partial[o * chunks + c]);
    r_finish<A>(op, p, r, g, o, w);
  }
}

template <typename T, typename A>
static lt_status reduce_run(lt_reduce_op op, double p, const lt_view *in, const red_geo &g,
                            const red_out &w) {
  /* group size: threads per output */
  int G = 1;
  bool inner = g.nr > 0 && g.rin[g.nr - 1] == 1;
  if (inner || g.num_out < 2 * lt_cuda_sm_count) {
    while (G < LT_THREADS && (int64_t)G * 8 <= g.num_red) G *= 2;
  }
  /* chunks: enough threads in flight for small output counts */
  int64_t want = (int64_t)lt_cuda_sm_count * 2048;
  int64_t chunks = 1;
  int64_t have = g.num_out * G;
  if (have < want && g.num_red >= (int64_t)G * 64) {
    chunks = (want + have - 1) / have;
    int64_t maxc = g.num_red / ((int64_t)G * 32);
    if (chunks > maxc) chunks = maxc;
    if (chunks > 1024) chunks = 1024;
    if (chunks < 1) chunks = 1;
  }
  int64_t chunk_len = (g.num_red + chunks - 1) / chunks;
  if (chunk_len < 1) chunk_len = 1;
  int64_t groups = g.num_out * chunks;
  int64_t per_block = LT_THREADS / G;
  int64_t blocks = (groups + per_block - 1) / per_block;
  if (blocks > 0x7fffffffLL)
    return lt_cuda_err(LT_ERR_ARG, "cuda reduce: too many outputs (%lld)", (long long)g.num_out);
  red_acc<A> *partial = NULL;
  size_t pbytes = 0;
  if (chunks > 1) {
    pbytes = (size_t)groups * sizeof(red_acc<A>);
    partial = (red_acc<A> *)lt_cuda_scratch_alloc(pbytes);
    if (!partial)
      return lt_cuda_err(LT_ERR_MEMORY, "cuda reduce: out of memory for %zu bytes of partials",
                         pbytes);
  }
  reduce_forward_kernel<T, A><<<(unsigned)blocks, LT_THREADS, 0, lt_cuda_stream>>>(
      (int)op, p, (const T *)in->data, g, G, chunks, chunk_len, partial, w);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && chunks > 1) {
    reduce_finish_kernel<A><<<lt_blocks(g.num_out), LT_THREADS, 0, lt_cuda_stream>>>(
        (int)op, p, g, chunks, partial, w);
    e = cudaGetLastError();
  }
  if (partial) lt_cuda_scratch_free(partial, pbytes);
  if (e != cudaSuccess)
    return lt_cuda_err(LT_ERR_BACKEND, "cuda reduce: %s", cudaGetErrorString(e));
  return LT_OK;
}

static bool float_only(lt_reduce_op op) {
  return op == LT_REDUCE_MEAN || op == LT_REDUCE_VAR || op == LT_REDUCE_STD ||
         op == LT_REDUCE_NORM || op == LT_REDUCE_LOGSUMEXP;
}

lt_status lt_cuda_reduce(lt_reduce_op op, const lt_view *out, const lt_view *idx,
                         const lt_view *in, uint32_t reduce_mask, double param, int64_t base) {
  if ((unsigned)op >= LT_REDUCE_COUNT)
    return lt_cuda_err(LT_ERR_ARG, "cuda reduce: bad op %d", (int)op);
  if (idx && idx->data && idx->dtype != LT_DTYPE_I64)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda reduce: indices must be int64");
  red_geo g;
  g.nk = g.nr = 0;
  g.num_out = 1;
  g.num_red = 1;
  for (int d = 0; d < in->ndim; d++) {
    int64_t s = in->shape[d];
    if (s == 0) {
      if (reduce_mask & (1u << d)) g.num_red = 0; else g.num_out = 0;
    }
    if (s == 1) continue;
    if (reduce_mask & (1u << d)) {
      g.num_red *= s;
      int k = g.nr;
      if (k > 0 && g.rin[k - 1] == in->stride[d] * s) {
        g.rshape[k - 1] *= s;
        g.rin[k - 1] = in->stride[d];
      } else {
        g.rshape[k] = s;
        g.rin[k] = in->stride[d];
        g.nr++;
      }
    } else {
      g.num_out *= s;
      int k = g.nk;
      int64_t is = idx && idx->data ? idx->stride[d] : 0;
      if (k > 0 && g.kin[k - 1] == in->stride[d] * s && g.kout[k - 1] == out->stride[d] * s &&
          g.kidx[k - 1] == is * s) {
        g.kshape[k - 1] *= s;
        g.kin[k - 1] = in->stride[d];
        g.kout[k - 1] = out->stride[d];
        g.kidx[k - 1] = is;
      } else {
        g.kshape[k] = s;
        g.kin[k] = in->stride[d];
        g.kout[k] = out->stride[d];
        g.kidx[k] = is;
        g.nk++;
      }
    }
  }
  if (g.num_out == 0) return LT_OK;
  if (g.num_red == 0) g.nr = 0;
  red_out w = {out->data, out->dtype, idx && idx->data ? (int64_t *)idx->data : NULL, base};
  bool fo = float_only(op);
  switch (in->dtype) {
    case LT_DTYPE_F32: return reduce_run<float, float>(op, param, in, g, w);
    case LT_DTYPE_F64: return reduce_run<double, double>(op, param, in, g, w);
    case LT_DTYPE_BF16: return reduce_run<bf16_t, float>(op, param, in, g, w);
    case LT_DTYPE_F16: return reduce_run<f16_t, float>(op, param, in, g, w);
    case LT_DTYPE_I64:
      return fo ? reduce_run<int64_t, double>(op, param, in, g, w)
                : reduce_run<int64_t, int64_t>(op, param, in, g, w);
    case LT_DTYPE_I32:
      return fo ? reduce_run<int32_t, double>(op, param, in, g, w)
                : reduce_run<int32_t, int64_t>(op, param, in, g, w);
    case LT_DTYPE_U8:
      return fo ? reduce_run<uint8_t, double>(op, param, in, g, w)
                : reduce_run<uint8_t, int64_t>(op, param, in, g, w);
    case LT_DTYPE_BOOL:
      return fo ? reduce_run<bool, double>(op, param, in, g, w)
                : reduce_run<bool, int64_t>(op, param, in, g, w);
    default:
      return lt_cuda_err(LT_ERR_DTYPE, "cuda reduce: unsupported dtype %d", (int)in->dtype);
  }
}
