// Merging nested config objects (a YAML file over the defaults, a study method's settings over the
// profile's): mappings merge key by key, anything else (arrays, values) is replaced.

export type ConfigTree = Record<string, unknown>;

const isTree = (v: unknown): v is ConfigTree => !!v && typeof v === "object" && !Array.isArray(v);

/** `b` over `a`, recursively for mappings; neither input is changed. */
export function deepMerge(a: ConfigTree, b: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    out[k] = isTree(v) && isTree(av) ? deepMerge(av, v) : v;
  }
  return out;
}
