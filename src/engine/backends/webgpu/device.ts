// Finding a WebGPU device through Dawn's Node binding (the `webgpu` npm package). The binding is
// imported only here, and only when a WebGPU backend is asked for.

/** WebGPU asked for, but no usable adapter (the message says what is missing). */
export class WebGpuUnavailableError extends Error {
  override name = "WebGpuUnavailableError";
}

/** The device went away mid-run (driver reset, out of memory, GPU removed). */
export class GpuDeviceLostError extends Error {
  override name = "GpuDeviceLostError";
}

export interface GpuHandle {
  /** Dawn's instance: it must stay referenced while the device lives (when it is garbage
   *  collected Dawn tears down under the device, and the process crashes). */
  instance: GPU;
  device: GPUDevice;
  /** "vendor architecture (description)" for logs. */
  label: string;
  /** True for a software adapter (SwiftShader, or one the browser marks as fallback). */
  software: boolean;
  features: string[];
}

function isSoftware(info: GPUAdapterInfo, adapter: GPUAdapter): boolean {
  const a = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return fallback || a.includes("swiftshader") || a.includes("llvmpipe") || a.includes("lavapipe");
}

/** Request an adapter and device. `allowSoftware: false` refuses SwiftShader and other CPU adapters
 *  (what `--backend auto` wants); throws WebGpuUnavailableError when nothing suitable is found. */
export async function requestGpu(opts: { allowSoftware: boolean }): Promise<GpuHandle> {
  let mod: typeof import("webgpu");
  try {
    mod = await import("webgpu");
  } catch (e) {
    throw new WebGpuUnavailableError(
      `WebGPU is unavailable: the "webgpu" package (Dawn) could not be loaded (${(e as Error).message}).`,
    );
  }
  // Globals such as GPUBufferUsage are used by Dawn's own objects; install them once.
  for (const [k, v] of Object.entries(mod.globals as Record<string, unknown>))
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter)
    throw new WebGpuUnavailableError(
      "WebGPU is unavailable: no GPU adapter was found (no Vulkan/Metal/D3D12 driver that Dawn accepts; on a CPU-only machine set VK_ICD_FILENAMES to SwiftShader's ICD, see scripts/setup-swiftshader.sh).",
    );
  const info = adapter.info;
  const software = isSoftware(info, adapter);
  if (software && !opts.allowSoftware)
    throw new WebGpuUnavailableError(
      `WebGPU is unavailable: only a software adapter (${info.architecture}) was found.`,
    );
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
    },
  });
  const label = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ");
  return { instance: gpu, device, label, software, features: [...adapter.features] };
}
