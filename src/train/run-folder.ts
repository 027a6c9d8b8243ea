// Opening a run folder for training, the same for RL, pretraining and SFT: take the folder's
// lock, find the checkpoint to continue from, and make the per-step logs agree with it. Nothing
// in the folder is deleted: when no checkpoint loads the run stops and says why, and starting
// over (--restart) moves the old checkpoints and logs aside.

import { existsSync, mkdirSync, renameSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type LoadedCheckpoint, scanCheckpoints } from "../model/checkpoint.ts";
import { fsyncDir, resetStepLogs } from "../util/fs.ts";
import { lockRunFolder } from "../util/lock.ts";

/** Files a run appends one record per step to; truncated together on resume. */
export const STEP_LOGS: readonly string[] = ["metrics.jsonl"];

export interface OpenRunFolderOptions {
  out: string;
  /** Continue from the newest usable checkpoint. */
  resume?: boolean;
  /** Start over from step 0, moving existing checkpoints and step logs aside. */
  restart?: boolean;
  /** Per-step JSONL files, relative to `out` (default STEP_LOGS). */
  stepLogs?: readonly string[];
  log?: (msg: string) => void;
}

export interface OpenedRunFolder {
  /** The checkpoint to continue from, or null for a run from step 0. */
  checkpoint: LoadedCheckpoint | null;
  /** Releases the folder's lock (at the end of the run, however it ends). */
  release: () => void;
}

export function openRunFolder(o: OpenRunFolderOptions): OpenedRunFolder {
  const log = o.log ?? ((m: string) => console.error(m));
  if (o.resume && o.restart) throw new Error("--resume and --restart exclude each other: choose one");
  mkdirSync(o.out, { recursive: true });
  const release = lockRunFolder(o.out, log);
  try {
    const names = o.stepLogs ?? STEP_LOGS;
    const logs = names.map((n) => join(o.out, n));
    if (o.restart) {
      const aside = moveAside(o.out, ["checkpoints", ...names]);
      if (aside) log(`--restart: the previous checkpoints and logs are now in ${aside}`);
      resetStepLogs(logs, null);
      return { checkpoint: null, release };
    }
    const { loaded, unusable } = scanCheckpoints(o.out);
    if (!loaded && unusable.length) throw new Error(noneUsable(o.out, unusable));
    if (loaded && !o.resume)
      throw new Error(
        `${o.out} already holds checkpoints: pass --resume to continue it, --restart to start over ` +
          "(the old ones are moved aside), or choose another --out",
      );
    // Resuming past damaged checkpoints: they go aside (the run will write those steps again),
    // kept for a look rather than overwritten or pruned.
    for (const u of unusable) log(`checkpoint ${u.dir} is unusable: ${u.reason}`);
    const aside = moveAside(
      o.out,
      unusable.map((u) => join("checkpoints", basename(u.dir))),
    );
    if (aside) log(`moved the unusable checkpoints to ${aside}; resuming from ${loaded!.dir}`);
    if (o.resume && !loaded) log(`--resume: ${o.out} has no checkpoint yet; starting from step 0`);
    resetStepLogs(logs, loaded ? loaded.state.step : null);
    return { checkpoint: loaded, release };
  } catch (e) {
    release();
    throw e;
  }
}

function noneUsable(out: string, unusable: { dir: string; reason: string }[]): string {
  return [
    `${join(out, "checkpoints")} holds ${unusable.length} checkpoint${unusable.length > 1 ? "s" : ""} and none can be loaded:`,
    ...unusable.map((u) => `  ${basename(u.dir)}: ${u.reason}`),
    "Nothing was changed. To start over from step 0, pass --restart (they are moved to " +
      `${join(out, "abandoned-<time>")}, not deleted), or choose another --out.`,
  ].join("\n");
}

/** Move `items` (paths relative to out, in order) that exist into out/abandoned-<time>/, keeping
 *  their relative paths; returns that folder (null: nothing to move). */
function moveAside(out: string, items: readonly string[]): string | null {
  const present = items.filter((n) => existsSync(join(out, n)));
  if (!present.length) return null;
  const dest = join(out, `abandoned-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  for (const n of present) {
    mkdirSync(dirname(join(dest, n)), { recursive: true });
    renameSync(join(out, n), join(dest, n));
  }
  fsyncDir(out);
  return dest;
}
