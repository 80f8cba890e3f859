/** One server of the local infrastructure. `up` is idempotent and returns its endpoints. */
export type Component = {
  readonly name: string;
  up(log: (line: string) => void): Promise<Record<string, unknown>>;
  /** True when a process was stopped. */
  down(): Promise<boolean>;
  status(): Promise<{ running: boolean; detail: string }>;
};
