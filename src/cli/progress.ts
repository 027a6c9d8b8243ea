// The progress bar every long command shows; it also prints (every 10 s) when not on a terminal,
// so logs of background runs show progress.

import cliProgress from "cli-progress";

export function startProgress(
  format: string,
  total: number,
  initial: Record<string, unknown> = {},
  notTTYSchedule = 10000,
): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    { format, hideCursor: true, noTTYOutput: true, notTTYSchedule },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, initial);
  return bar;
}
