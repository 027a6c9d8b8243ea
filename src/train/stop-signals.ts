// Stopping a training run by signal (Ctrl-C, `kill`, a scheduler's SIGTERM). The first SIGINT or
// SIGTERM asks the run loop to stop after the step in progress: it finishes that step, writes a
// checkpoint of it unless it has one, and ends with StoppedBySignal. A checkpoint is always worth
// writing then: it costs less than a step, and every step since the last one would be lost. A
// second signal ends the process at once; the last checkpoint is intact, as writes are atomic.

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT_CODES;

/** A run stopped by a signal, after saving; `exitCode` is the shell's code for that signal. */
export class StoppedBySignal extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: StopSignal,
    message: string,
  ) {
    super(message);
    this.name = "StoppedBySignal";
    this.exitCode = EXIT_CODES[signal];
  }
}

export class StopSignals {
  /** The signal received, once one has been. */
  received: StopSignal | null = null;
  private readonly handler = (signal: StopSignal) => {
    if (this.received) {
      this.log(`${signal} again: stopping now; the last checkpoint is intact`);
      process.exit(EXIT_CODES[signal]);
    }
    this.received = signal;
    this.log(`${signal}: stopping after the current step (${signal} again stops at once)`);
  };

  constructor(private readonly log: (msg: string) => void) {
    for (const s of Object.keys(EXIT_CODES)) process.on(s, this.handler);
  }

  /** The signal received so far. Training steps are mostly synchronous and a signal is only
   *  delivered when the event loop runs, so this first lets it run once. */
  async check(): Promise<StopSignal | null> {
    await new Promise((resolve) => setImmediate(resolve));
    return this.received;
  }

  /** Stop listening: the process's default handling of these signals returns. */
  dispose(): void {
    for (const s of Object.keys(EXIT_CODES)) process.off(s, this.handler);
  }
}

/** The error a run ends with after `step` steps once a signal came; `saved` is the checkpoint
 *  folder holding that step (null: no step done, nothing to save), `written` whether it is new. */
export function stoppedAfter(
  signal: StopSignal,
  step: number,
  total: number,
  saved: { dir: string; written: boolean } | null,
): StoppedBySignal {
  const what = !saved
    ? "no step was done, nothing to save"
    : saved.written
      ? `checkpoint ${saved.dir} written`
      : `its checkpoint is ${saved.dir}`;
  return new StoppedBySignal(signal, `stopped by ${signal} after step ${step} of ${total}: ${what}`);
}
