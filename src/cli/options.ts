// Config files (YAML or JSON) validated by a zod schema, with every leaf of the schema also
// settable on the command line as a dotted flag (`--train.lr 1e-6`). The schema is the single
// source of truth: it gives the defaults, the --help text and the errors, which name the key.

import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { deepMerge } from "../util/merge.ts";

type AnySchema = z.ZodType;

interface Leaf {
  path: string;
  description: string;
  type: string;
  defaultValue?: unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definition tree
type Def = any;

function unwrap(s: AnySchema): { inner: Def; description?: string; defaultValue?: unknown } {
  let cur: Def = s;
  let description: string | undefined = cur.description;
  let defaultValue: unknown;
  for (;;) {
    const t = cur.def.type;
    if (t === "default" || t === "prefault") {
      defaultValue ??=
        typeof cur.def.defaultValue === "function" ? cur.def.defaultValue() : cur.def.defaultValue;
      cur = cur.def.innerType;
    } else if (t === "optional" || t === "nullable") cur = cur.def.innerType;
    else break;
    description ??= cur.description;
  }
  return { inner: cur, description, defaultValue };
}

export function schemaLeaves(schema: AnySchema, prefix = ""): Leaf[] {
  const { inner } = unwrap(schema);
  const out: Leaf[] = [];
  for (const [key, child] of Object.entries(inner.shape as Record<string, AnySchema>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const u = unwrap(child);
    if (u.inner.def.type === "object") out.push(...schemaLeaves(child, path));
    else {
      let type = u.inner.def.type as string;
      if (type === "enum") type = Object.values(u.inner.def.entries as Record<string, string>).join("|");
      out.push({ path, description: u.description ?? "", type, defaultValue: u.defaultValue });
    }
  }
  return out;
}

/** Add `--config FILE` and one `--a.b <value>` flag per schema leaf. */
export function addConfigOptions(cmd: Command, schema: AnySchema): Command {
  cmd.option("--config <file>", "YAML or JSON config file (flags override it)");
  for (const leaf of schemaLeaves(schema)) {
    const def = leaf.defaultValue === undefined ? "" : ` (default: ${JSON.stringify(leaf.defaultValue)})`;
    cmd.option(`--${leaf.path} <${leaf.type}>`, `${leaf.description}${def}`);
  }
  return cmd;
}

function parseFlagValue(raw: string): unknown {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw.trim())) return Number(raw);
  if (/^[[{]/.test(raw.trim())) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`cannot parse ${raw} as JSON`);
    }
  }
  return raw;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== "object" || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new Error(`config file ${path} does not exist`);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`config file ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new Error(`config file ${path}: expected a mapping of keys`);
  return raw as Record<string, unknown>;
}

/** Validate, naming each offending key; unknown keys are errors (schemas are strict). */
export function validateConfig<S extends AnySchema>(schema: S, raw: unknown, source: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data as z.output<S>;
  const msgs = r.error.issues.map((i) => {
    const at = i.path.join(".");
    if (i.code === "unrecognized_keys")
      return `unknown key${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => (at ? `${at}.${k}` : k)).join(", ")}`;
    return `${at || "(root)"}: ${i.message}`;
  });
  throw new Error(`invalid config (${source}):\n  ${msgs.join("\n  ")}`);
}

/** The config a command runs with: schema defaults < config file < command-line flags. */
export function resolveConfig<S extends AnySchema>(
  schema: S,
  flags: Record<string, unknown>,
  base: Record<string, unknown> = {},
): z.output<S> {
  const raw: Record<string, unknown> = structuredClone(base);
  const file = flags.config as string | undefined;
  if (file) Object.assign(raw, deepMerge(raw, readConfigFile(file)));
  const leaves = new Set(schemaLeaves(schema).map((l) => l.path));
  for (const [k, v] of Object.entries(flags)) {
    if (k === "config" || !leaves.has(k) || v === undefined) continue;
    try {
      setPath(raw, k, typeof v === "string" ? parseFlagValue(v) : v);
    } catch (e) {
      throw new Error(`--${k}: ${(e as Error).message}`);
    }
  }
  return validateConfig(schema, raw, file ? `${file} and flags` : "flags");
}

/** --resume and --restart: the same on every command that trains in a run folder. */
export function addRunFolderFlags(cmd: Command): Command {
  return cmd
    .option("--resume", "continue the run in --out from its newest usable checkpoint")
    .option(
      "--restart",
      "start the run in --out over from step 0; its checkpoints and metrics are moved to " +
        "<out>/abandoned-<time>/, not deleted",
    );
}

const TRAINS_IN_RUN_FOLDER = new Set(["train", "pretrain", "sft"]);

/** The command line that continues an interrupted `rlif <command>`: the same arguments, with
 *  --resume instead of --restart where it trains in a run folder (`reproduce` resumes by itself). */
export function resumeCommand(args: readonly string[], command: string | undefined): string {
  const inRunFolder = command !== undefined && TRAINS_IN_RUN_FOLDER.has(command);
  const kept = inRunFolder ? args.filter((a) => a !== "--restart" && a !== "--resume") : [...args];
  if (inRunFolder) kept.push("--resume");
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return ["rlif", ...kept.map(quote)].join(" ");
}

/** A command-line value that must be a positive integer (`--seeds 5`); the error names the flag. */
export function positiveIntFlag(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}
