// Entry point of the kernel module. Every kernel takes (t, nt) first, this thread's index and
// the thread count, so the pool can run any of them on a share of the work; nt = 1 runs it whole.
// Kernels never allocate: buffers and per-thread scratch come from the JS allocator.

export { matmul, matmulScratchBytes, packedFloats } from "./matmul";
export {
  attentionForward,
  attentionBackward,
  attentionScratchBytes,
  attentionDecode,
  attentionDecodeScratchBytes,
} from "./attention";
export { decodeStep, decodePack, decodeBegin, decodeScratchBytes } from "./decode";
export { tokenStatsForward, tokenStatsBackward } from "./tokenstats";
export { rmsnormForward, rmsnormBackward, swigluForward, swigluBackward, adamw, axpy } from "./elementwise";

/** First byte after the module's static data: the JS allocator starts above it. */
export function heapBase(): usize {
  return __heap_base;
}
export {
  binary,
  binaryBackward,
  unary,
  unaryBackward,
  affine,
  addRowVector,
  sumRowsAcc,
  sumRows,
  broadcastRows,
  rope,
  embedding,
  embeddingBackward,
  sumAll,
  sumSquares,
} from "./pointwise";
