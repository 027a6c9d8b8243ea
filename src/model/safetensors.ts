// The safetensors format (https://github.com/huggingface/safetensors), read and written in plain
// TypeScript: an 8-byte little-endian header length N, N bytes of JSON header, then the tensor
// bytes. The header maps names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data section) plus an optional "__metadata__" map of strings.
//
// Reading validates everything the reference implementation validates (and a little more:
// duplicate names) before allocating anything sized by the header, so a malformed or hostile
// file yields a clear error naming the file, never a crash or a huge allocation. Floating-point
// dtypes are converted to Float32 (or Float64 with the *F64 variants); integers are converted
// when the value is exactly representable. Writing produces the same bytes as the reference
// serializer: tensors sorted by dtype (F64 before F32) then name, compact JSON, the header
// padded with spaces to a multiple of 8 bytes.

import { createHash } from "node:crypto";
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Same cap as the reference implementation: a larger header is refused before it is read. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** Bytes per element of a safetensors dtype. */
export function dtypeBytes(dtype: string): number {
  const n = DTYPE_BYTES[dtype];
  if (n === undefined) throw new Error(`unknown safetensors dtype ${dtype}`);
  return n;
}

export interface LoadedTensor<A extends Float32Array | Float64Array = Float32Array> {
  /** The dtype stored in the file (the data has been converted). */
  dtype: string;
  shape: number[];
  data: A;
}

export interface SafetensorsContents<A extends Float32Array | Float64Array = Float32Array> {
  tensors: Map<string, LoadedTensor<A>>;
  metadata: Record<string, string>;
}

export interface TensorToSave {
  shape: readonly number[];
  /** Float64Array is written as F64; Float32Array as `dtype`. A function is called only when the
   *  tensor is written (then give `numel`), so a large model is converted one tensor at a time. */
  data: Float32Array | Float64Array | (() => Float32Array);
  numel?: number;
  dtype?: SaveDtype;
}

export class SafetensorsError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = "SafetensorsError";
  }
}

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Parse a safetensors file held in memory; every tensor is converted to Float32. */
export function parseSafetensors(bytes: Uint8Array, source = "<safetensors buffer>"): SafetensorsContents {
  return parse(bytes, source, "f32") as SafetensorsContents;
}

/** As parseSafetensors, but converted to Float64 (exact for F64 tensors, e.g. golden values). */
export function parseSafetensorsF64(
  bytes: Uint8Array,
  source = "<safetensors buffer>",
): SafetensorsContents<Float64Array> {
  return parse(bytes, source, "f64") as SafetensorsContents<Float64Array>;
}

export function readSafetensorsFile(path: string): SafetensorsContents {
  return parseSafetensors(readFile(path), path);
}

export function readSafetensorsFileF64(path: string): SafetensorsContents<Float64Array> {
  return parseSafetensorsF64(readFile(path), path);
}

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------- reading
interface Header {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

/** The header length from the first 8 bytes, checked against the file's size. */
function headerLength(first8: Uint8Array, fileLength: number, fail: (m: string) => never): number {
  if (fileLength < 8) fail(`file of ${fileLength} bytes is too short for the 8-byte header length`);
  const n64 = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES))
    fail(
      `header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes (corrupt or not a safetensors file)`,
    );
  const n = Number(n64);
  if (8 + n > fileLength)
    fail(
      `header length ${n} runs past the end of the file (${fileLength} bytes): truncated or not a safetensors file`,
    );
  return n;
}

/** Parse and validate the JSON header (bytes 8..8+n) of a file of fileLength bytes. */
function parseHeader(headerBytes: Uint8Array, fileLength: number, fail: (m: string) => never): Header {
  const n = headerBytes.length;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    return fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`invalid JSON header: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) return fail("header is not a JSON object");
  const dup = firstDuplicateTopLevelKey(text);
  if (dup !== null) fail(`tensor name ${JSON.stringify(dup)} appears twice in the header`);

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isPlainObject(info)) fail("__metadata__ is not an object of strings");
      for (const [k, v] of Object.entries(info as object)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries.push(parseEntry(name, info, fail));
  }

  // As the reference does: sorted by offsets, tensors must tile the data section exactly.
  const dataStart = 8 + n;
  const dataLen = fileLength - dataStart;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: HeaderEntry | null = null;
  for (const e of sorted) {
    if (e.begin < pos)
      fail(
        `tensors ${JSON.stringify(prev!.name)} [${prev!.begin}, ${prev!.end}) and ${JSON.stringify(e.name)} ` +
          `[${e.begin}, ${e.end}) overlap`,
      );
    if (e.begin > pos)
      fail(
        `bytes [${pos}, ${e.begin}) of the data section belong to no tensor (before ${JSON.stringify(e.name)})`,
      );
    pos = e.end;
    prev = e;
  }
  if (pos > dataLen) {
    const past = sorted.find((e) => e.end > dataLen)!;
    fail(
      `tensor ${JSON.stringify(past.name)} data_offsets [${past.begin}, ${past.end}] out of range: the data ` +
        `section has only ${dataLen} bytes (truncated file? the header needs ${pos})`,
    );
  }
  if (pos < dataLen)
    fail(`${dataLen - pos} trailing bytes after the last tensor (header covers ${pos} of ${dataLen})`);
  return { entries, metadata, dataStart };
}

function parse(
  bytes: Uint8Array,
  source: string,
  precision: "f32" | "f64",
): SafetensorsContents<Float32Array | Float64Array> {
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  const n = headerLength(bytes.subarray(0, 8), bytes.length, fail);
  const { entries, metadata, dataStart } = parseHeader(bytes.subarray(8, 8 + n), bytes.length, fail);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = new Map<string, LoadedTensor<Float32Array | Float64Array>>();
  for (const e of entries) {
    const data = decode(view, dataStart + e.begin, e, precision, fail);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** What the header says about one tensor, before its data is read. */
export interface TensorInfo {
  dtype: string;
  shape: number[];
}

/**
 * A safetensors file opened for reading one tensor at a time: the header is read and validated
 * at open, each tensor's bytes only when it is asked for, so a model never sits in memory twice
 * (once as file bytes, once converted). Close it when done.
 */
export class SafetensorsFile {
  readonly metadata: Record<string, string>;
  private readonly byName = new Map<string, HeaderEntry>();
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    header: Header,
    private readonly dataStart: number,
  ) {
    this.fd = fd;
    this.metadata = header.metadata;
    for (const e of header.entries) this.byName.set(e.name, e);
  }

  static open(path: string): SafetensorsFile {
    const fail = (msg: string): never => {
      throw new SafetensorsError(path, msg);
    };
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      return fail(`cannot read: ${(e as Error).message}`);
    }
    try {
      const size = fstatSync(fd).size;
      const first8 = readExactly(fd, 0, Math.min(8, size), path);
      const n = headerLength(first8, size, fail);
      const header = parseHeader(readExactly(fd, 8, n, path), size, fail);
      return new SafetensorsFile(path, fd, header, header.dataStart);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Tensor names and what the header says of each, in header order. */
  tensors(): Map<string, TensorInfo> {
    const out = new Map<string, TensorInfo>();
    for (const [name, e] of this.byName) out.set(name, { dtype: e.dtype, shape: e.shape });
    return out;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** One tensor, converted to Float32 (or Float64). */
  read(name: string, precision: "f32" | "f64" = "f32"): LoadedTensor<Float32Array | Float64Array> {
    const e = this.byName.get(name);
    if (!e) throw new SafetensorsError(this.path, `no tensor ${JSON.stringify(name)}`);
    if (this.fd === null) throw new SafetensorsError(this.path, "read after close");
    const bytes = readExactly(this.fd, this.dataStart + e.begin, e.end - e.begin, this.path);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = decode(view, 0, e, precision, (m) => {
      throw new SafetensorsError(this.path, m);
    });
    return { dtype: e.dtype, shape: e.shape, data };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** `length` bytes at `position` (positional reads: no seek state shared between tensors). */
function readExactly(fd: number, position: number, length: number, path: string): Uint8Array {
  const buf = new Uint8Array(length);
  for (let off = 0; off < length; ) {
    const got = readSync(fd, buf, off, length - off, position + off);
    if (got === 0)
      throw new SafetensorsError(path, `file ended early reading ${length} bytes at ${position}`);
    off += got;
  }
  return buf;
}

function parseEntry(name: string, info: unknown, fail: (m: string) => never): HeaderEntry {
  const what = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(info)) fail(`${what}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== "string") return fail(`${what}: missing dtype`);
  if (!(dtype in DTYPE_BYTES)) fail(`${what}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape)) return fail(`${what}: shape is not an array`);
  let numel = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)
      fail(`${what}: shape [${shape.join(", ")}] has a dimension that is not a non-negative integer`);
    numel *= d;
    if (numel > Number.MAX_SAFE_INTEGER) fail(`${what}: shape [${shape.join(", ")}] is absurdly large`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2)
    return fail(`${what}: data_offsets is not [begin, end]`);
  const [begin, end] = offsets;
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin)
    fail(`${what}: invalid data_offsets [${offsets.join(", ")}]`);
  const want = numel * DTYPE_BYTES[dtype];
  if (end - begin !== want)
    fail(
      `${what}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} [${shape.join(", ")}] needs ${want}`,
    );
  return { name, dtype, shape: shape as number[], begin: begin as number, end: end as number };
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decode(
  view: DataView,
  at: number,
  e: HeaderEntry,
  precision: "f32" | "f64",
  fail: (m: string) => never,
): Float32Array | Float64Array {
  const numel = (e.end - e.begin) / DTYPE_BYTES[e.dtype];
  const out = precision === "f64" ? new Float64Array(numel) : new Float32Array(numel);
  const abs = view.byteOffset + at;
  const get = (): ((i: number) => number) => {
    switch (e.dtype) {
      case "F32":
        return (i) => view.getFloat32(at + 4 * i, true);
      case "F64":
        return (i) => view.getFloat64(at + 8 * i, true);
      case "F16":
        return (i) => halfToFloat(view.getUint16(at + 2 * i, true));
      case "BF16":
        return (i) => bf16ToFloat(view.getUint16(at + 2 * i, true));
      case "BOOL":
      case "U8":
        return (i) => view.getUint8(at + i);
      case "I8":
        return (i) => view.getInt8(at + i);
      case "I16":
        return (i) => view.getInt16(at + 2 * i, true);
      case "U16":
        return (i) => view.getUint16(at + 2 * i, true);
      case "I32":
        return (i) => view.getInt32(at + 4 * i, true);
      case "U32":
        return (i) => view.getUint32(at + 4 * i, true);
      case "I64":
        return (i) => bigToNumber(view.getBigInt64(at + 8 * i, true), i);
      case "U64":
        return (i) => bigToNumber(view.getBigUint64(at + 8 * i, true), i);
      default:
        return fail(`tensor ${JSON.stringify(e.name)}: dtype ${e.dtype} is not supported`);
    }
  };
  const bigToNumber = (v: bigint, i: number): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER))
      fail(`tensor ${JSON.stringify(e.name)}: element ${i} = ${v} is not exactly representable as a float`);
    return Number(v);
  };
  // Fast path: same-type little-endian copy when the bytes are aligned.
  if (LITTLE_ENDIAN_HOST && e.dtype === "F32" && precision === "f32" && abs % 4 === 0) {
    out.set(new Float32Array(view.buffer, abs, numel));
    return out;
  }
  if (LITTLE_ENDIAN_HOST && e.dtype === "F64" && precision === "f64" && abs % 8 === 0) {
    out.set(new Float64Array(view.buffer, abs, numel));
    return out;
  }
  // Half-precision weights of real models: bfloat16 is the top half of a float32 (a shift), and
  // every float16 is looked up in a 65536-entry table: both exact, no DataView call per element.
  if (
    LITTLE_ENDIAN_HOST &&
    (e.dtype === "BF16" || e.dtype === "F16") &&
    precision === "f32" &&
    abs % 2 === 0
  ) {
    const half = new Uint16Array(view.buffer, abs, numel);
    if (e.dtype === "BF16") {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = half[i] << 16;
    } else {
      const table = halfTable();
      for (let i = 0; i < numel; i++) out[i] = table[half[i]];
    }
    return out;
  }
  const g = get();
  const isInt = !e.dtype.startsWith("F") && e.dtype !== "BF16";
  for (let i = 0; i < numel; i++) {
    const v = g(i);
    out[i] = v;
    if (isInt && out[i] !== v)
      fail(
        `tensor ${JSON.stringify(e.name)}: ${e.dtype} element ${i} = ${v} is not exactly representable in ${precision}`,
      );
  }
  return out;
}

let HALF_TABLE: Float32Array | null = null;
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

/** IEEE 754 binary16 bits to a number (exact: every half is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bfScratch = new DataView(new ArrayBuffer(4));
/** bfloat16 bits are the top half of a float32. */
export function bf16ToFloat(h: number): number {
  bfScratch.setUint32(0, h << 16, false);
  return bfScratch.getFloat32(0, false);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** JSON.parse keeps the last of duplicate keys silently; scan the (already valid) header for them. */
function firstDuplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return null;
}

// ---------------------------------------------------------------- writing
/** Float dtypes rlif writes: Float32 data may be stored as F32, BF16 or F16 (rounded to nearest even). */
export type SaveDtype = "F32" | "BF16" | "F16";

// The reference orders tensors by dtype, larger first in its enum (F64 > F32 > BF16 > F16), then name.
const DTYPE_RANK: Record<string, number> = { F64: 3, F32: 2, BF16: 1, F16: 0 };

interface PlannedTensor {
  name: string;
  shape: readonly number[];
  dtype: string;
  nbytes: number;
  t: TensorToSave;
}

/** Header bytes (padded to 8) and tensor order of a file, as the reference serializer lays it out. */
function planFile(
  tensors: ReadonlyMap<string, TensorToSave>,
  metadata?: Record<string, string>,
): { header: Uint8Array; items: PlannedTensor[]; dataBytes: number } {
  const enc = new TextEncoder();
  const items = [...tensors].map(([name, t]) => {
    if (name === "__metadata__") throw new Error('a tensor cannot be named "__metadata__"');
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0) || (t.numel ?? dataOf(t).length) !== numel)
      throw new Error(
        `tensor ${name}: shape [${t.shape}] does not match ${t.numel ?? dataOf(t).length} values`,
      );
    const dtype = t.data instanceof Float64Array ? "F64" : (t.dtype ?? "F32");
    return { name, key: enc.encode(name), shape: t.shape, dtype, nbytes: numel * DTYPE_BYTES[dtype], t };
  });
  items.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || Buffer.compare(a.key, b.key));

  const header: Record<string, unknown> = {};
  if (metadata) {
    const m: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) {
      if (typeof metadata[k] !== "string") throw new Error(`metadata ${k} is not a string`);
      m[k] = metadata[k];
    }
    header.__metadata__ = m;
  }
  let offset = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: [...it.shape], data_offsets: [offset, offset + it.nbytes] };
    offset += it.nbytes;
  }
  const json = enc.encode(JSON.stringify(header));
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return { header: head, items, dataBytes: offset };
}

function dataOf(t: TensorToSave): Float32Array | Float64Array {
  return typeof t.data === "function" ? t.data() : t.data;
}

/** One tensor's bytes in its file dtype, little-endian. */
function encodeTensor(it: PlannedTensor): Uint8Array {
  const data = dataOf(it.t);
  if (it.dtype === "F32" || it.dtype === "F64") {
    if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(it.nbytes);
    const view = new DataView(out.buffer);
    if (it.dtype === "F64") for (let i = 0; i < data.length; i++) view.setFloat64(8 * i, data[i], true);
    else for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
    return out;
  }
  const out = new Uint8Array(it.nbytes);
  const view = new DataView(out.buffer);
  const bits = it.dtype === "BF16" ? floatToBf16Bits : floatToHalfBits;
  for (let i = 0; i < data.length; i++) view.setUint16(2 * i, bits(data[i]), true);
  return out;
}

/** Serialize tensors byte-for-byte as the reference implementation (F64 for Float64Array data,
 *  else the tensor's dtype, F32 by default). */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, TensorToSave>,
  metadata?: Record<string, string>,
): Uint8Array {
  const { header, items, dataBytes } = planFile(tensors, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header, 0);
  let at = header.length;
  for (const it of items) {
    out.set(encodeTensor(it), at);
    at += it.nbytes;
  }
  return out;
}

/** Write a safetensors file so that a crash never leaves a partial file at `path`: write a
 *  temporary file in the same directory tensor by tensor (lazy `data` is read only then, so a
 *  model is never held twice), fsync it, rename it over `path`. Returns the SHA-256 (hex) of the
 *  bytes written, taken as they are written. */
export function writeSafetensorsFileAtomic(
  path: string,
  tensors: ReadonlyMap<string, TensorToSave>,
  metadata?: Record<string, string>,
): string {
  const { header, items } = planFile(tensors, metadata);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number | null = null;
  const hash = createHash("sha256");
  const writeAll = (fd: number, bytes: Uint8Array) => {
    hash.update(bytes);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
  };
  try {
    fd = openSync(tmp, "wx");
    writeAll(fd, header);
    for (const it of items) writeAll(fd, encodeTensor(it));
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw new SafetensorsError(path, `cannot write: ${(e as Error).message}`);
  }
  // Make the rename itself durable; not every platform lets a directory be fsynced.
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {}
  return hash.digest("hex");
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 -> bfloat16 bits, round to nearest even; NaN -> 0x7fc0 (as PyTorch's .to(bfloat16)). */
export function floatToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  if (Number.isNaN(f32Scratch[0])) return 0x7fc0;
  const u = u32Scratch[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 -> IEEE binary16 bits, round to nearest even; overflow -> inf, NaN -> quiet NaN. */
export function floatToHalfBits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00; // >= 65520 rounds to inf (and inf itself)
  if (abs < 0x38800000) {
    // below the smallest normal half (2^-14): a multiple of 2^-24, rounded half to even
    const v = Math.abs(f32Scratch[0]) * 2 ** 24;
    let q = Math.floor(v);
    const rem = v - q;
    if (rem > 0.5 || (rem === 0.5 && q & 1)) q++;
    return sign | q;
  }
  let h = (abs >>> 13) - ((127 - 15) << 10);
  const rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
