/*
** cuda_elementwise.cu - copy (any dtype pair, any strides), fill, unary,
** unary_backward, binary (tensor or scalar, reverse, comparisons -> bool)
** and where. One kernel per dtype with the op switched at run time (uniform
** across a warp), halves computed in float, offsets from the linear index
** over host-coalesced dims, a flat path when every operand is dense.
** Does not broadcast or check shapes: the engine's front-ends do.
*/
#include <type_traits>
#include "cuda_kernels.cuh"

/* ---------------------------------------------------------------- copy / fill */

template <typename To, typename From>
__global__ void copy_forward_kernel(To *dst, const From *src, lt_geo g, int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[2];
    lt_geo_offsets<2>(g, i, off);
    dst[off[0]] = lt_to<To>(src[off[1]]);
  }
}

template <typename To>
static lt_status copy_from(const lt_view *dst, const lt_view *src, const lt_geo &g, int64_t n) {
  To *d = (To *)dst->data;
  LT_DISPATCH_ALL(src->dtype, "copy",
                  copy_forward_kernel<To, scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                      d, (const scalar_t *)src->data, g, n));
  LT_CUDA_LAUNCHED("copy");
  return LT_OK;
}

lt_status lt_cuda_copy(const lt_view *dst, const lt_view *src) {
  int64_t n = lt_numel_of(dst->shape, dst->ndim);
  if (n == 0) return LT_OK;
  const lt_view *vs[2] = {dst, src};
  lt_geo g = lt_geo_make(dst->shape, dst->ndim, vs, 2);
  if (g.contig && dst->dtype == src->dtype) {
    LT_CUDA_CHECK("copy", cudaMemcpyAsync(dst->data, src->data,
                                          (size_t)n * lt_cuda_dtype_size(dst->dtype),
                                          cudaMemcpyDeviceToDevice, lt_cuda_stream));
    return LT_OK;
  }
  LT_DISPATCH_ALL(dst->dtype, "copy", return copy_from<scalar_t>(dst, src, g, n));
  return LT_OK;
}

template <typename T>
__global__ void fill_forward_kernel(T *dst, T v, lt_geo g, int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[1];
    lt_geo_offsets<1>(g, i, off);
    dst[off[0]] = v;
  }
}

template <typename T> static T host_cast(double v);
template <> float host_cast<float>(double v) { return (float)v; }
template <> double host_cast<double>(double v) { return v; }
template <> bf16_t host_cast<bf16_t>(double v) { return __float2bfloat16_rn((float)v); }
template <> f16_t host_cast<f16_t>(double v) { return __float2half_rn((float)v); }
template <> int64_t host_cast<int64_t>(double v) { return (int64_t)v; }
template <> int32_t host_cast<int32_t>(double v) { return (int32_t)(int64_t)v; }
template <> uint8_t host_cast<uint8_t>(double v) { return (uint8_t)(int64_t)v; }
template <> bool host_cast<bool>(double v) { return v != 0; }

lt_status lt_cuda_fill(const lt_view *dst, double value) {
  int64_t n = lt_numel_of(dst->shape, dst->ndim);
  if (n == 0) return LT_OK;
  const lt_view *vs[1] = {dst};
  lt_geo g = lt_geo_make(dst->shape, dst->ndim, vs, 1);
  if (g.contig && value == 0 && !(1 / value < 0)) {
    LT_CUDA_CHECK("fill", cudaMemsetAsync(dst->data, 0, (size_t)n * lt_cuda_dtype_size(dst->dtype),
                                          lt_cuda_stream));
    return LT_OK;
  }
  LT_DISPATCH_ALL(dst->dtype, "fill",
                  fill_forward_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                      (scalar_t *)dst->data, host_cast<scalar_t>(value), g, n));
  LT_CUDA_LAUNCHED("fill");
  return LT_OK;
}

/* ---------------------------------------------------------------- unary */

template <typename A> __device__ inline bool is_nan_(A x) {
  if constexpr (std::is_floating_point<A>::value) return isnan(x); else return false;
}

/* Integer power by squaring (negative exponents: 0 unless |base| == 1). */
template <typename A> __device__ inline A ipow(A b, A e) {
  if (e < 0) {
    if (b == 1) return 1;
    if (b == (A)-1) return (e & 1) ? (A)-1 : (A)1;
    return 0;
  }
  A r = 1;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return r;
}

#define LT_SQRT1_2 0.70710678118654752440
#define LT_2_SQRTPI 1.12837916709551257390
#define LT_SQRT_2_PI 0.79788456080286535588  /* sqrt(2/pi) */
#define LT_INV_SQRT_2PI 0.39894228040143267794

template <typename A>
__device__ inline A unary_apply(int op, A x, A p0, A p1, bool has0, bool has1) {
  switch (op) {
    case LT_UNARY_NEG: return -x;
    case LT_UNARY_ABS: return x < 0 ? -x : x;
    case LT_UNARY_SIGN: return (A)((A)0 < x) - (A)(x < (A)0);
    case LT_UNARY_SQUARE: return x * x;
    case LT_UNARY_RELU: return x <= 0 ? (A)0 : x;
    case LT_UNARY_CLAMP:
      if (is_nan_(x)) return x;
      if (has0 && x < p0) x = p0;
      if (has1 && x > p1) x = p1;
      return x;
    case LT_UNARY_LEAKY_RELU: return x > 0 ? x : x * p0;
    default: break;
  }
  if constexpr (std::is_floating_point<A>::value) {
    switch (op) {
      case LT_UNARY_EXP: return exp(x);
      case LT_UNARY_LOG: return log(x);
      case LT_UNARY_LOG1P: return log1p(x);
      case LT_UNARY_EXPM1: return expm1(x);
      case LT_UNARY_SQRT: return sqrt(x);
      case LT_UNARY_RSQRT: return (A)1 / sqrt(x);
      case LT_UNARY_RECIPROCAL: return (A)1 / x;
      case LT_UNARY_SIN: return sin(x);
      case LT_UNARY_COS: return cos(x);
      case LT_UNARY_TANH: return tanh(x);
      case LT_UNARY_SIGMOID: return (A)1 / ((A)1 + exp(-x));
      case LT_UNARY_GELU: return (A)0.5 * x * ((A)1 + erf(x * (A)LT_SQRT1_2));
      case LT_UNARY_GELU_TANH: {
        A inner = (A)LT_SQRT_2_PI * (x + (A)0.044715 * x * x * x);
        return (A)0.5 * x * ((A)1 + tanh(inner));
      }
      case LT_UNARY_SILU: return x / ((A)1 + exp(-x));
      case LT_UNARY_ERF: return erf(x);
      case LT_UNARY_FLOOR: return floor(x);
      case LT_UNARY_CEIL: return ceil(x);
      case LT_UNARY_ROUND: return rint(x);
      case LT_UNARY_TRUNC: return trunc(x);
      case LT_UNARY_POW_SCALAR:  /* PyTorch's special exponents, as the CPU */
        if (p0 == 2) return x * x;
        if (p0 == 3) return x * x * x;
        if (p0 == (A)0.5) return sqrt(x);
        if (p0 == (A)-0.5) return (A)1 / sqrt(x);
        if (p0 == -1) return (A)1 / x;
        if (p0 == -2) return (A)1 / (x * x);
        if (p0 == 1) return x;
        return pow(x, p0);
      case LT_UNARY_RPOW_SCALAR: return pow(p0, x);
      default: return x;
    }
  } else {
    switch (op) {
      case LT_UNARY_POW_SCALAR: return ipow<A>(x, p0);
      case LT_UNARY_RPOW_SCALAR: return ipow<A>(p0, x);
      default: return x;  /* floor/ceil/round/trunc of integers */
    }
  }
}

template <typename T, typename A>
__global__ void unary_forward_kernel(int op, T *out, const T *in, lt_geo g, int64_t n, A p0, A p1,
                                     bool has0, bool has1) {
  LT_GRID_LOOP(i, n) {
    int64_t off[2];
    lt_geo_offsets<2>(g, i, off);
    A x = lt_to<A>(in[off[1]]);
    out[off[0]] = lt_to<T>(unary_apply<A>(op, x, p0, p1, has0, has1));
  }
}

/* ISNAN / ISINF / LOGICAL_NOT -> bool */
template <typename T>
__global__ void unary_bool_forward_kernel(int op, bool *out, const T *in, lt_geo g, int64_t n) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(i, n) {
    int64_t off[2];
    lt_geo_offsets<2>(g, i, off);
    A x = lt_to<A>(in[off[1]]);
    bool r;
    if (op == LT_UNARY_LOGICAL_NOT) r = !(x != (A)0);
    else if constexpr (std::is_floating_point<A>::value)
      r = op == LT_UNARY_ISNAN ? isnan(x) : isinf(x);
    else
      r = false;
    out[off[0]] = r;
  }
}

template <typename A> static A param_cast(double v) {
  if (v != v) return (A)0;
  if constexpr (std::is_floating_point<A>::value) return (A)v;
  else {
    if (v >= 9.2e18) return (A)INT64_MAX;
    if (v <= -9.2e18) return (A)INT64_MIN;
    return (A)(int64_t)v;
  }
}

lt_status lt_cuda_unary(lt_unary_op op, const lt_view *out, const lt_view *in, const double *p) {
  int64_t n = lt_numel_of(out->shape, out->ndim);
  if (n == 0) return LT_OK;
  if ((unsigned)op >= LT_UNARY_COUNT)
    return lt_cuda_err(LT_ERR_ARG, "cuda unary: bad op %d", (int)op);
  const lt_view *vs[2] = {out, in};
  lt_geo g = lt_geo_make(out->shape, out->ndim, vs, 2);
  unsigned nb = lt_blocks(n);
  if (op == LT_UNARY_ISNAN || op == LT_UNARY_ISINF || op == LT_UNARY_LOGICAL_NOT) {
    if (out->dtype != LT_DTYPE_BOOL)
      return lt_cuda_err(LT_ERR_DTYPE, "cuda unary: output of %d must be bool", (int)op);
    LT_DISPATCH_ALL(in->dtype, "unary",
                    unary_bool_forward_kernel<scalar_t><<<nb, LT_THREADS, 0, lt_cuda_stream>>>(
                        (int)op, (bool *)out->data, (const scalar_t *)in->data, g, n));
    LT_CUDA_LAUNCHED("unary");
    return LT_OK;
  }
  if (out->dtype != in->dtype)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda unary: output dtype %s differs from input %s",
                       lt_cuda_dtype_name(out->dtype), lt_cuda_dtype_name(in->dtype));
  double p0 = p ? p[0] : 0, p1 = p ? p[1] : 0;
  bool has0 = p0 == p0, has1 = p1 == p1;
  LT_DISPATCH_ALL(in->dtype, "unary", {
    typedef typename lt_acc<scalar_t>::type A;
    unary_forward_kernel<scalar_t, A><<<nb, LT_THREADS, 0, lt_cuda_stream>>>(
        (int)op, (scalar_t *)out->data, (const scalar_t *)in->data, g, n, param_cast<A>(p0),
        param_cast<A>(p1), has0, has1);
  });
  LT_CUDA_LAUNCHED("unary");
  return LT_OK;
}

/* ---------------------------------------------------------------- unary backward */

template <typename A>
__device__ inline A unary_grad(int op, A dy, A x, A y, A p0, A p1, bool has0, bool has1) {
  switch (op) {
    case LT_UNARY_NEG: return -dy;
    case LT_UNARY_ABS: return x > 0 ? dy : (x < 0 ? -dy : (A)0);
    case LT_UNARY_EXP: return dy * y;
    case LT_UNARY_LOG: return dy / x;
    case LT_UNARY_LOG1P: return dy / ((A)1 + x);
    case LT_UNARY_EXPM1: return dy * (y + (A)1);
    case LT_UNARY_SQRT: return dy / ((A)2 * y);
    case LT_UNARY_RSQRT: return dy * (A)-0.5 * y * y * y;
    case LT_UNARY_RECIPROCAL: return -dy * y * y;
    case LT_UNARY_SQUARE: return dy * (A)2 * x;
    case LT_UNARY_SIN: return dy * cos(x);
    case LT_UNARY_COS: return -dy * sin(x);
    case LT_UNARY_TANH: return dy * ((A)1 - y * y);
    case LT_UNARY_SIGMOID: return dy * y * ((A)1 - y);
    case LT_UNARY_RELU: return x <= 0 ? (A)0 : dy;
    case LT_UNARY_GELU: {
      A cdf = (A)0.5 * ((A)1 + erf(x * (A)LT_SQRT1_2));
      A pdf = exp((A)-0.5 * x * x) * (A)LT_INV_SQRT_2PI;
      return dy * (cdf + x * pdf);
    }
    case LT_UNARY_GELU_TANH: {
      const A beta = (A)LT_SQRT_2_PI, kappa = (A)0.044715;
      A xsq = x * x, inner = beta * (x + kappa * xsq * x), t = tanh(inner);
      A left = (A)0.5 * x, right = (A)1 + t;
      A dleft = (A)0.5 * right;
      A dright = left * ((A)1 - t * t) * beta * ((A)1 + (A)3 * kappa * xsq);
      return dy * (dleft + dright);
    }
    case LT_UNARY_SILU: {
      A s = (A)1 / ((A)1 + exp(-x));
      return dy * s * ((A)1 + x * ((A)1 - s));
    }
    case LT_UNARY_ERF: return dy * (A)LT_2_SQRTPI * exp(-x * x);
    case LT_UNARY_CLAMP: {
      bool in = (!has0 || x >= p0) && (!has1 || x <= p1);
      return in ? dy : (A)0;
    }
    case LT_UNARY_LEAKY_RELU: return x > 0 ? dy : dy * p0;
    case LT_UNARY_POW_SCALAR:
      if (p0 == 0) return (A)0;
      if (p0 == 2) return (A)2 * x * dy;
      return dy * (p0 * pow(x, p0 - (A)1));
    case LT_UNARY_RPOW_SCALAR:  /* y = p0^x (recomputed when y was not given) */
      if (p0 == 0 && x >= 0) return (A)0;
      return dy * ((has1 ? y : pow(p0, x)) * log(p0));
    default: return (A)0;  /* sign floor ceil round trunc logical_not isnan isinf */
  }
  (void)p1;
}

template <typename T>
__global__ void unary_backward_kernel(int op, T *dx, const T *dy, const T *x, const T *y,
                                      lt_geo g, int64_t n, float p0f, float p1f, double p0d,
                                      double p1d, bool has0, bool has1) {
  typedef typename lt_acc<T>::type A;
  A p0 = sizeof(A) == 8 ? (A)p0d : (A)p0f, p1 = sizeof(A) == 8 ? (A)p1d : (A)p1f;
  LT_GRID_LOOP(i, n) {
    int64_t off[4];
    lt_geo_offsets<4>(g, i, off);
    A vx = x ? lt_to<A>(x[off[2]]) : (A)0;
    A vy = y ? lt_to<A>(y[off[3]]) : (A)0;
    bool h1 = op == LT_UNARY_RPOW_SCALAR ? y != NULL : has1;
    dx[off[0]] = lt_to<T>(unary_grad<A>(op, lt_to<A>(dy[off[1]]), vx, vy, p0, p1, has0, h1));
  }
}

static bool reads_y(lt_unary_op op) {
  switch (op) {
    case LT_UNARY_EXP: case LT_UNARY_SQRT: case LT_UNARY_RSQRT: case LT_UNARY_TANH:
    case LT_UNARY_SIGMOID: case LT_UNARY_RECIPROCAL: case LT_UNARY_EXPM1: return true;
    default: return false;
  }
}

lt_status lt_cuda_unary_backward(lt_unary_op op, const lt_view *dx, const lt_view *dy,
                                 const lt_view *x, const lt_view *y, const double *p) {
  int64_t n = lt_numel_of(dx->shape, dx->ndim);
  if (n == 0) return LT_OK;
  const lt_view *xv = x && x->data ? x : NULL, *yv = y && y->data ? y : NULL;
  bool ny = reads_y(op);
  if (ny && !yv)
    return lt_cuda_err(LT_ERR_ARG, "cuda unary_backward: op %d needs the output y", (int)op);
  if (op == LT_UNARY_RPOW_SCALAR && !xv && yv) ny = true;
  if (!ny && !xv && op != LT_UNARY_NEG && op != LT_UNARY_SIGN && op != LT_UNARY_FLOOR &&
      op != LT_UNARY_CEIL && op != LT_UNARY_ROUND && op != LT_UNARY_TRUNC)
    return lt_cuda_err(LT_ERR_ARG, "cuda unary_backward: op %d needs the input x", (int)op);
  const lt_view *vs[4] = {dx, dy, xv, yv};
  lt_geo g = lt_geo_make(dx->shape, dx->ndim, vs, 4);
  double p0 = p ? p[0] : 0, p1 = p ? p[1] : 0;
  bool has0 = p0 == p0, has1 = p1 == p1;
  LT_DISPATCH_FLOAT(dx->dtype, "unary_backward",
                    unary_backward_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                        (int)op, (scalar_t *)dx->data, (const scalar_t *)dy->data,
                        xv ? (const scalar_t *)xv->data : NULL,
                        yv ? (const scalar_t *)yv->data : NULL, g, n, (float)p0, (float)p1, p0,
                        p1, has0, has1));
  LT_CUDA_LAUNCHED("unary_backward");
  return LT_OK;
}

/* ---------------------------------------------------------------- binary */

template <typename A> __device__ inline A binary_apply(int op, A a, A b) {
  if constexpr (std::is_floating_point<A>::value) {
    switch (op) {
      case LT_BINARY_ADD: return a + b;
      case LT_BINARY_SUB: return a - b;
      case LT_BINARY_MUL: return a * b;
      case LT_BINARY_DIV: return a / b;
      case LT_BINARY_POW: return pow(a, b);
      case LT_BINARY_MAXIMUM: return (isnan(a) || isnan(b)) ? a + b : (a > b ? a : b);
      case LT_BINARY_MINIMUM: return (isnan(a) || isnan(b)) ? a + b : (a < b ? a : b);
      case LT_BINARY_FMOD: return fmod(a, b);
      case LT_BINARY_REMAINDER: {
        A m = fmod(a, b);
        if (m != 0 && ((b < 0) != (m < 0))) m += b;
        return m;
      }
      case LT_BINARY_FLOOR_DIVIDE: {
        if (b == 0) return a / b;
        A m = fmod(a, b), d = (a - m) / b;
        if (m != 0 && ((b < 0) != (m < 0))) d -= (A)1;
        A fd;
        if (d != 0) {
          fd = floor(d);
          if (d - fd > (A)0.5) fd += (A)1;
        } else {
          fd = copysign((A)0, a / b);
        }
        return fd;
      }
      case LT_BINARY_ATAN2: return atan2(a, b);
      default: return 0;
    }
  } else {
    switch (op) {
      case LT_BINARY_ADD: return a + b;
      case LT_BINARY_SUB: return a - b;
      case LT_BINARY_MUL: return a * b;
      case LT_BINARY_DIV: return b == 0 ? (A)0 : a / b;
      case LT_BINARY_POW: return ipow<A>(a, b);
      case LT_BINARY_MAXIMUM: return a > b ? a : b;
      case LT_BINARY_MINIMUM: return a < b ? a : b;
      case LT_BINARY_FMOD: return b == 0 ? (A)0 : a % b;
      case LT_BINARY_REMAINDER: {
        if (b == 0) return 0;
        A m = a % b;
        if (m != 0 && ((b < 0) != (m < 0))) m += b;
        return m;
      }
      case LT_BINARY_FLOOR_DIVIDE: {
        if (b == 0) return 0;
        A q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
        return q;
      }
      case LT_BINARY_ATAN2: return (A)atan2((double)a, (double)b);
      default: return 0;
    }
  }
}

template <typename A> __device__ inline bool compare_apply(int op, A a, A b) {
  switch (op) {
    case LT_BINARY_EQ: return a == b;
    case LT_BINARY_NE: return a != b;
    case LT_BINARY_LT: return a < b;
    case LT_BINARY_LE: return a <= b;
    case LT_BINARY_GT: return a > b;
    case LT_BINARY_GE: return a >= b;
    case LT_BINARY_LOGICAL_AND: return (a != (A)0) && (b != (A)0);
    case LT_BINARY_LOGICAL_OR: return (a != (A)0) || (b != (A)0);
    case LT_BINARY_LOGICAL_XOR: return (a != (A)0) != (b != (A)0);
    default: return false;
  }
}

/* b == NULL: the scalar s; rev: s op a. */
template <typename T, typename O>
__global__ void binary_forward_kernel(int op, O *out, const T *a, const T *b,
                                      typename lt_acc<T>::type s, bool rev, lt_geo g, int64_t n) {
  typedef typename lt_acc<T>::type A0;
  /* bool arithmetic (add = or, mul = and) is done on 0/1 integers */
  typedef typename std::conditional<std::is_same<A0, bool>::value, int, A0>::type A;
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    lt_geo_offsets<3>(g, i, off);
    A x = lt_to<A>(a[off[1]]);
    A y = b ? lt_to<A>(b[off[2]]) : (A)s;
    if (rev) { A t = x; x = y; y = t; }
    if constexpr (std::is_same<O, bool>::value)
      out[off[0]] = compare_apply<A>(op, x, y);
    else
      out[off[0]] = lt_to<O>(binary_apply<A>(op, x, y));
  }
}

lt_status lt_cuda_binary(lt_binary_op op, const lt_view *out, const lt_view *a, const lt_view *b,
                         double s, bool reverse) {
  int64_t n = lt_numel_of(out->shape, out->ndim);
  if (n == 0) return LT_OK;
  if ((unsigned)op >= LT_BINARY_COUNT)
    return lt_cuda_err(LT_ERR_ARG, "cuda binary: bad op %d", (int)op);
  bool cmp = op >= LT_BINARY_EQ;
  if (cmp && out->dtype != LT_DTYPE_BOOL)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda binary: comparison output must be bool");
  if (!cmp && out->dtype != a->dtype)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda binary: output dtype %s differs from input %s",
                       lt_cuda_dtype_name(out->dtype), lt_cuda_dtype_name(a->dtype));
  if (b && b->dtype != a->dtype)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda binary: operand dtypes %s and %s differ",
                       lt_cuda_dtype_name(a->dtype), lt_cuda_dtype_name(b->dtype));
  const lt_view *vs[3] = {out, a, b};
  lt_geo g = lt_geo_make(out->shape, out->ndim, vs, 3);
  unsigned nb = lt_blocks(n);
  LT_DISPATCH_ALL(a->dtype, "binary", {
    typedef typename lt_acc<scalar_t>::type A;
    A sv = param_cast<A>(s);
    if (std::is_same<A, bool>::value) sv = s != 0;
    const scalar_t *pb = b ? (const scalar_t *)b->data : NULL;
    if (cmp)
      binary_forward_kernel<scalar_t, bool><<<nb, LT_THREADS, 0, lt_cuda_stream>>>(
          (int)op, (bool *)out->data, (const scalar_t *)a->data, pb, sv, reverse, g, n);
    else
      binary_forward_kernel<scalar_t, scalar_t><<<nb, LT_THREADS, 0, lt_cuda_stream>>>(
          (int)op, (scalar_t *)out->data, (const scalar_t *)a->data, pb, sv, reverse, g, n);
  });
  LT_CUDA_LAUNCHED("binary");
  return LT_OK;
}

/* ---------------------------------------------------------------- where */

template <typename T>
__global__ void where_forward_kernel(T *out, const bool *cond, const T *a, const T *b, T s,
                                     lt_geo g, int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[4];
    lt_geo_offsets<4>(g, i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : (b ? b[off[3]] : s);
  }
}

lt_status lt_cuda_where(const lt_view *out, const lt_view *cond, const lt_view *a,
                        const lt_view *b, double s) {
  int64_t n = lt_numel_of(out->shape, out->ndim);
  if (n == 0) return LT_OK;
  if (cond->dtype != LT_DTYPE_BOOL)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda where: condition must be bool, got %s",
                       lt_cuda_dtype_name(cond->dtype));
  const lt_view *vs[4] = {out, cond, a, b};
  lt_geo g = lt_geo_make(out->shape, out->ndim, vs, 4);
  LT_DISPATCH_ALL(out->dtype, "where",
                  where_forward_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                      (scalar_t *)out->data, (const bool *)cond->data,
                      (const scalar_t *)a->data, b ? (const scalar_t *)b->data : NULL,
                      host_cast<scalar_t>(s), g, n));
  LT_CUDA_LAUNCHED("where");
  return LT_OK;
}
