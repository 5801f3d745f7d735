/*
** cuda_gemm.cu - row-major (batched) C = alpha op(A) op(B) + beta C through
** cuBLAS (cublasGemmStridedBatchedEx), by computing C^T = op(B)^T op(A)^T in
** column-major terms. float32 uses TF32 tensor cores only when
** lt_cuda_set_tf32(1) was called; bf16/f16 accumulate in float32. Layouts
** cuBLAS refuses (ld below a row, sizes over INT_MAX) use a plain kernel.
*/
#include <cublas_v2.h>
#include <limits.h>
#include "cuda_kernels.cuh"

static cublasHandle_t g_handle;

static const char *cublas_msg(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "cuBLAS invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "cuBLAS architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "cuBLAS mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "cuBLAS execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "cuBLAS internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "cuBLAS not supported";
    default: return "cuBLAS error";
  }
}

#define LT_CUBLAS_CHECK(op, call)                                                    \
  do {                                                                               \
    cublasStatus_t s_ = (call);                                                      \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                 \
      return lt_cuda_err(LT_ERR_BACKEND, "cuda %s: %s (%d)", op, cublas_msg(s_), (int)s_); \
  } while (0)

static lt_status handle_get(void) {
  if (g_handle) return LT_OK;
  LT_CUBLAS_CHECK("gemm", cublasCreate(&g_handle));
  LT_CUBLAS_CHECK("gemm", cublasSetStream(g_handle, lt_cuda_stream));
  return LT_OK;
}

/* One thread per C element, any leading dimensions (also 0). */
template <typename T>
__global__ void gemm_naive_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                  double alpha, const T *a, int64_t lda, int64_t sa, const T *b,
                                  int64_t ldb, int64_t sb, double beta, T *c, int64_t ldc,
                                  int64_t sc, int64_t batch) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, m * n * batch) {
    int64_t bi = e / (m * n), r = (e / n) % m, col = e % n;
    const T *pa = a + bi * sa, *pb = b + bi * sb;
    A s = 0;
    for (int64_t p = 0; p < k; p++) {
      A av = lt_to<A>(ta ? pa[p * lda + r] : pa[r * lda + p]);
      A bv = lt_to<A>(tb ? pb[col * ldb + p] : pb[p * ldb + col]);
      s += av * bv;
    }
    T *cp = c + bi * sc + r * ldc + col;
    A v = (A)alpha * s;
    if (beta != 0) v += (A)beta * lt_to<A>(*cp);
    *cp = lt_to<T>(v);
  }
}

lt_status lt_cuda_gemm(lt_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                       int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                       int64_t stride_c, int64_t batch) {
  if (m < 0 || n < 0 || k < 0 || batch < 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda gemm: negative size (m %lld, n %lld, k %lld, batch %lld)",
                       (long long)m, (long long)n, (long long)k, (long long)batch);
  if (m == 0 || n == 0 || batch == 0) return LT_OK;
  if (!lt_cuda_is_float(dt))
    return lt_cuda_err(LT_ERR_DTYPE, "cuda gemm: dtype %s not supported", lt_cuda_dtype_name(dt));
  /* single-row matrices may come with any ld: give cuBLAS a legal one */
  int64_t ar = trans_a ? k : m, ac = trans_a ? m : k;
  int64_t br = trans_b ? n : k, bc = trans_b ? k : n;
  if (ar <= 1 && lda < ac) lda = ac > 1 ? ac : 1;
  if (br <= 1 && ldb < bc) ldb = bc > 1 ? bc : 1;
  if (m <= 1 && ldc < n) ldc = n > 1 ? n : 1;
  bool blas = lda >= (ac > 1 ? ac : 1) && ldb >= (bc > 1 ? bc : 1) && ldc >= (n > 1 ? n : 1) &&
              m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
              ldc <= INT_MAX && batch <= INT_MAX && k > 0;
  if (!blas) {
    int64_t total = m * n * batch;
    LT_DISPATCH_FLOAT(dt, "gemm",
                      gemm_naive_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0, lt_cuda_stream>>>(
                          trans_a, trans_b, m, n, k, alpha, (const scalar_t *)a, lda, stride_a,
                          (const scalar_t *)b, ldb, stride_b, beta, (scalar_t *)c, ldc, stride_c,
                          batch));
    LT_CUDA_LAUNCHED("gemm");
    return LT_OK;
  }
  lt_status st = handle_get();
  if (st) return st;
  cudaDataType_t ty;
  cublasComputeType_t ct;
  float af = (float)alpha, bf = (float)beta;
  const void *pa = &af, *pb = &bf;
  switch (dt) {
    case LT_DTYPE_F32:
      ty = CUDA_R_32F;
      ct = lt_cuda_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      break;
    case LT_DTYPE_F64: ty = CUDA_R_64F; ct = CUBLAS_COMPUTE_64F; pa = &alpha; pb = &beta; break;
    case LT_DTYPE_BF16: ty = CUDA_R_16BF; ct = CUBLAS_COMPUTE_32F; break;
    default: ty = CUDA_R_16F; ct = CUBLAS_COMPUTE_32F; break;
  }
  cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  LT_CUBLAS_CHECK("gemm", cublasGemmStridedBatchedEx(
                              g_handle, opb, opa, (int)n, (int)m, (int)k, pa, b, ty, (int)ldb,
                              stride_b, a, ty, (int)lda, stride_a, pb, c, ty, (int)ldc, stride_c,
                              (int)batch, ct, CUBLAS_GEMM_DEFAULT));
  return LT_OK;
}
