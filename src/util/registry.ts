// Named implementations (as verl's core_algos.py): advantage estimators, KL estimators, loss
// aggregations and rewards are chosen by name, and the `rlif train` config schema takes its enums
// from the registries' names, so a registered implementation is reachable from YAML and flags.

export class Registry<T> {
  private readonly items = new Map<string, T>();

  /** `what` names the kind in errors ("advantage estimator"). */
  constructor(
    readonly what: string,
    builtins: Readonly<Record<string, T>> = {},
  ) {
    for (const [name, item] of Object.entries(builtins)) this.register(name, item);
  }

  /** Add (or replace) `name`. Names are config values: letters, digits, '-' and '_'. */
  register(name: string, item: T): void {
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) throw new Error(`invalid ${this.what} name "${name}"`);
    this.items.set(name, item);
  }

  get(name: string): T {
    const item = this.items.get(name);
    if (item === undefined)
      throw new Error(`unknown ${this.what} "${name}"; valid: ${this.names().join(", ")}`);
    return item;
  }

  has(name: string): boolean {
    return this.items.has(name);
  }

  /** Names in registration order (built-ins first). */
  names(): string[] {
    return [...this.items.keys()];
  }
}
