import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  parseSafetensors,
  parseSafetensorsF64,
  readSafetensorsFile,
  SafetensorsError,
  serializeSafetensors,
  type TensorToSave,
  writeSafetensorsFileAtomic,
} from "../src/model/safetensors.ts";

const FIXTURES = new URL("./fixtures/golden/", import.meta.url).pathname;

/** A file from a raw header string and data bytes; `n` overrides the stored header length. */
function rawFile(header: string | object, data: Uint8Array | number[] = [], n?: bigint): Uint8Array {
  const h = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function sampleTensors(): Map<string, TensorToSave & { data: Float32Array | Float64Array }> {
  return new Map([
    ["model.b", { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]) }],
    ["model.a", { shape: [3], data: new Float32Array([Math.PI, Number.POSITIVE_INFINITY, -7]) }],
    ["exact", { shape: [2], data: new Float64Array([1 / 3, 1e-300]) }],
    ["scalar", { shape: [], data: new Float32Array([42]) }],
    ["empty", { shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

describe("safetensors round trip", () => {
  test("tensors, shapes and metadata survive serialize + parse", () => {
    const src = sampleTensors();
    const bytes = serializeSafetensors(src, { format: "pt", "note é": 'with "quotes"' });
    const f32 = parseSafetensors(bytes, "mem");
    const f64 = parseSafetensorsF64(bytes, "mem");
    assert.deepEqual(f32.metadata, { format: "pt", "note é": 'with "quotes"' });
    assert.deepEqual([...f32.tensors.keys()].sort(), [...src.keys()].sort());
    for (const [name, t] of src) {
      const a = f32.tensors.get(name)!;
      const b = f64.tensors.get(name)!;
      assert.deepEqual(a.shape, [...t.shape]);
      assert.equal(a.dtype, t.data instanceof Float64Array ? "F64" : "F32");
      assert.deepEqual(a.data, Float32Array.from(t.data));
      assert.deepEqual(b.data, Float64Array.from(t.data)); // F64 stays exact in the F64 reader
    }
    assert.ok(Object.is(f32.tensors.get("model.b")!.data[4], -0));
  });

  test("layout follows the reference: aligned, space-padded header, F64 first, then by name", () => {
    const bytes = serializeSafetensors(sampleTensors());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(text, /^\{"exact":\{"dtype":"F64","shape":\[2\],"data_offsets":\[0,16\]\},"empty":/);
    assert.ok(!text.includes("__metadata__"), "no metadata key unless metadata is given");
    const json = text.trimEnd();
    assert.equal(text.slice(json.length), " ".repeat(text.length - json.length));
    assert.ok(text.length - json.length < 8);
    const order = Object.keys(JSON.parse(json));
    assert.deepEqual(order, ["exact", "empty", "model.a", "model.b", "scalar"]);
    assert.equal(bytes.length, 8 + n + 16 + 4 * (3 + 6 + 1));
  });

  test("a file written by Python is re-serialized byte for byte", () => {
    for (const dir of ["qwen2_tiny_tied", "qwen2_tiny_untied"]) {
      for (const file of ["model.safetensors", "golden.safetensors"]) {
        const path = join(FIXTURES, dir, file);
        const bytes = readFileSync(path);
        const { tensors, metadata } = parseSafetensorsF64(bytes, path);
        const back = new Map<string, TensorToSave>();
        for (const [name, t] of tensors)
          back.set(name, { shape: t.shape, data: t.dtype === "F32" ? Float32Array.from(t.data) : t.data });
        assert.deepEqual(Buffer.from(serializeSafetensors(back, metadata)), bytes, path);
      }
    }
  });

  test("dtypes written by PyTorch convert as torch converts them", () => {
    const path = join(FIXTURES, "safetensors_dtypes.safetensors");
    const { tensors, metadata } = readSafetensorsFile(path);
    assert.equal(metadata.note, 'rlif dtype fixture, "quoted" é');
    const sameBits = (a: Float32Array, b: Float32Array, what: string) => {
      assert.equal(a.length, b.length, what);
      for (let i = 0; i < a.length; i++)
        assert.ok(Object.is(a[i], b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    for (const name of ["f16", "bf16", "f64"]) {
      const t = tensors.get(name)!;
      const want = tensors.get(`${name}.as_f32`)!;
      assert.equal(t.dtype, name.toUpperCase());
      assert.deepEqual(t.shape, want.shape);
      sameBits(t.data, want.data, name);
    }
    const ints: [string, string, number[], number[]][] = [
      ["i64", "I64", [2, 2], [0, -1, 2 ** 40, -(2 ** 24)]],
      ["i32", "I32", [3], [5, -7, 2 ** 24]],
      ["i16", "I16", [2], [-32768, 32767]],
      ["u8", "U8", [3], [0, 255, 7]],
      ["bool", "BOOL", [3], [1, 0, 1]],
    ];
    for (const [name, dtype, shape, values] of ints) {
      const t = tensors.get(name)!;
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, shape);
      assert.deepEqual(Array.from(t.data), values, name);
    }
    assert.deepEqual(tensors.get("scalar")!.shape, []);
    assert.deepEqual(Array.from(tensors.get("scalar")!.data), [2.5]);
    assert.deepEqual(tensors.get("empty")!.shape, [0, 3]);
    assert.equal(tensors.get("empty")!.data.length, 0);
    // The F64 reader keeps doubles exact.
    const f64 = parseSafetensorsF64(readFileSync(path), path).tensors.get("f64")!.data;
    assert.deepEqual(Array.from(f64), [1 / 3, -1e-300, 1e300, 2 ** -149, 123456789.12345679, -0]);
  });

  test("serialize refuses a shape that does not match the data", () => {
    assert.throws(
      () => serializeSafetensors(new Map([["w", { shape: [2, 2], data: new Float32Array(3) }]])),
      /tensor w: shape \[2,2\] does not match 3 values/,
    );
    assert.throws(
      () => serializeSafetensors(new Map([["__metadata__", { shape: [1], data: new Float32Array(1) }]])),
      /__metadata__/,
    );
  });
});

describe("safetensors files", () => {
  test("atomic write: readable, overwrites, leaves no temporary file", () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-st-"));
    try {
      const path = join(dir, "model.safetensors");
      writeFileSync(path, "old contents");
      writeSafetensorsFileAtomic(path, sampleTensors(), { step: "3" });
      const back = readSafetensorsFile(path);
      assert.equal(back.metadata.step, "3");
      assert.deepEqual(Array.from(back.tensors.get("model.a")!.data), [Math.fround(Math.PI), Infinity, -7]);
      assert.deepEqual(readdirSync(dir), ["model.safetensors"]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("errors name the file: missing file, missing directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-st-"));
    try {
      const missing = join(dir, "nope.safetensors");
      assert.throws(
        () => readSafetensorsFile(missing),
        (e: Error) => e.message.includes(missing),
      );
      const noDir = join(dir, "sub", "x.safetensors");
      assert.throws(
        () => writeSafetensorsFileAtomic(noDir, sampleTensors()),
        (e: Error) => e instanceof SafetensorsError && e.message.includes(noDir),
      );
      assert.ok(!existsSync(join(dir, "sub")));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("malformed safetensors give clear errors", () => {
  const t = (dtype: string, shape: unknown[], offsets: unknown[]) => ({
    dtype,
    shape,
    data_offsets: offsets,
  });
  const valid = serializeSafetensors(
    new Map([
      ["a", { shape: [2], data: new Float32Array([1, 2]) }],
      ["b", { shape: [3], data: new Float32Array([3, 4, 5]) }],
    ]),
  );
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /5 bytes is too short for the 8-byte header length/],
    [
      "header length past the end",
      rawFile("{}", [], 1000n),
      /header length 1000 runs past the end of the file/,
    ],
    [
      "absurd header length",
      rawFile("{}", [], 2n ** 62n),
      /header length 4611686018427387904 exceeds the limit/,
    ],
    ["invalid JSON", rawFile('{"a": {', []), /invalid JSON header/],
    ["header not an object", rawFile("[1, 2]", []), /header is not a JSON object/],
    ["entry not an object", rawFile({ a: 3 }, []), /tensor "a": header entry is not an object/],
    [
      "unknown dtype",
      rawFile({ a: t("F17", [1], [0, 4]) }, f32Bytes([1])),
      /tensor "a": unknown dtype "F17"/,
    ],
    [
      "unsupported dtype",
      rawFile({ a: t("F8_E4M3", [2], [0, 2]) }, [1, 2]),
      /tensor "a": dtype F8_E4M3 is not supported/,
    ],
    [
      "negative dim",
      rawFile({ a: t("F32", [-1, 2], [0, 8]) }, f32Bytes([1, 2])),
      /not a non-negative integer/,
    ],
    ["fractional dim", rawFile({ a: t("F32", [1.5], [0, 4]) }, f32Bytes([1])), /not a non-negative integer/],
    ["string dim", rawFile({ a: t("F32", ["2"], [0, 8]) }, f32Bytes([1, 2])), /not a non-negative integer/],
    [
      "absurd shape",
      rawFile({ a: t("F32", [2 ** 30, 2 ** 30, 2 ** 30], [0, 4]) }, f32Bytes([1])),
      /absurdly large/,
    ],
    [
      "shape/offset mismatch",
      rawFile({ a: t("F32", [2, 2], [0, 8]) }, f32Bytes([1, 2])),
      /\[0, 8\] hold 8 bytes but F32 \[2, 2\] needs 16/,
    ],
    [
      "reversed offsets",
      rawFile({ a: t("F32", [0], [8, 4]) }, f32Bytes([1, 2])),
      /invalid data_offsets \[8, 4\]/,
    ],
    [
      "offsets not a pair",
      rawFile({ a: t("F32", [1], [0]) }, f32Bytes([1])),
      /data_offsets is not \[begin, end\]/,
    ],
    [
      "missing dtype",
      rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, f32Bytes([1])),
      /tensor "a": missing dtype/,
    ],
    [
      "offsets out of range",
      rawFile({ a: t("F32", [2], [0, 8]), b: t("F32", [4], [8, 24]) }, f32Bytes([1, 2, 3])),
      /tensor "b" data_offsets \[8, 24\] out of range: the data section has only 12 bytes/,
    ],
    [
      "truncated data",
      valid.subarray(0, valid.length - 3),
      /tensor "b" .* out of range: .* \(truncated file\? the header needs 20\)/,
    ],
    [
      "overlapping tensors",
      rawFile({ a: t("F32", [2], [0, 8]), b: t("F32", [2], [4, 12]) }, f32Bytes([1, 2, 3])),
      /tensors "a" \[0, 8\) and "b" \[4, 12\) overlap/,
    ],
    [
      "same range twice",
      rawFile({ a: t("F32", [2], [0, 8]), b: t("F32", [2], [0, 8]) }, f32Bytes([1, 2])),
      /tensors "a" \[0, 8\) and "b" \[0, 8\) overlap/,
    ],
    [
      "hole between tensors",
      rawFile({ a: t("F32", [1], [0, 4]), b: t("F32", [1], [8, 12]) }, f32Bytes([1, 2, 3])),
      /bytes \[4, 8\) of the data section belong to no tensor/,
    ],
    [
      "trailing bytes",
      rawFile({ a: t("F32", [1], [0, 4]) }, f32Bytes([1, 2])),
      /4 trailing bytes after the last tensor/,
    ],
    [
      "duplicate names",
      rawFile(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        f32Bytes([1, 2]),
      ),
      /tensor name "a" appears twice/,
    ],
    ["metadata not strings", rawFile({ __metadata__: { step: 3 } }, []), /__metadata__.step is not a string/],
    [
      "I64 beyond float precision",
      rawFile({ a: t("I64", [1], [0, 8]) }, new Uint8Array(new BigInt64Array([2n ** 24n + 1n]).buffer)),
      /tensor "a": I64 element 0 = 16777217 is not exactly representable in f32/,
    ],
    [
      "I64 beyond 2^53",
      rawFile({ a: t("I64", [1], [0, 8]) }, new Uint8Array(new BigInt64Array([2n ** 60n]).buffer)),
      /element 0 = 1152921504606846976 is not exactly representable/,
    ],
  ];
  for (const [what, bytes, re] of cases) {
    test(what, () => {
      assert.throws(
        () => parseSafetensors(bytes, "bad.safetensors"),
        (e: Error) => {
          assert.ok(e instanceof SafetensorsError, `${e.name}: ${e.message}`);
          assert.match(e.message, /^bad\.safetensors: /);
          assert.match(e.message, re);
          return true;
        },
      );
    });
  }

  test("valid non-UTF-8 bytes are refused as such", () => {
    const h = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x20]); // {"\xff":1}
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 8n, true);
    bytes.set(h, 8);
    assert.throws(() => parseSafetensors(bytes, "x.st"), /x\.st: header is not valid UTF-8/);
  });

  test("an integer that fits float64 but not float32 loads in the F64 reader", () => {
    const bytes = rawFile(
      { a: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(new BigInt64Array([2n ** 24n + 1n]).buffer),
    );
    assert.deepEqual(Array.from(parseSafetensorsF64(bytes).tensors.get("a")!.data), [2 ** 24 + 1]);
  });

  test("random corruption never escapes as anything but a SafetensorsError", () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const base = serializeSafetensors(sampleTensors(), { format: "pt" });
    let parsed = 0;
    for (let trial = 0; trial < 400; trial++) {
      let bytes = base.slice();
      const kind = trial % 3;
      if (kind === 0) bytes = bytes.subarray(0, Math.floor(rand() * bytes.length));
      else
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
          // flip bytes, mostly in the header and its length where parsing decisions are made
          const at = kind === 1 ? Math.floor(rand() * 8) : Math.floor(rand() * bytes.length);
          bytes[at] = Math.floor(rand() * 256);
        }
      try {
        parseSafetensors(bytes, "fuzz");
        parsed++;
      } catch (e) {
        assert.ok(
          e instanceof SafetensorsError,
          `trial ${trial}: ${(e as Error).name}: ${(e as Error).message}`,
        );
      }
    }
    assert.ok(parsed < 400);
  });
});
