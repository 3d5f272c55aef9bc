/** Where a command writes. Tests pass their own sinks; the bin passes process streams. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Working directory that relative paths are resolved against. */
  cwd: string;
  /** True when stdout is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
}

/**
 * One `distillery <name>` subcommand. Each lives in its own module under `commands/`
 * and is listed once in `commands/index.ts`; later packages add theirs the same way.
 */
export interface CliCommand {
  name: string;
  /** One line for `distillery --help`. */
  summary: string;
  /** Full usage text for `distillery <name> --help`. */
  usage: string;
  /** Returns the process exit code. Throw a DistilleryError for bad input: the bin prints it. */
  run(argv: string[], io: CliIO): Promise<number>;
}
