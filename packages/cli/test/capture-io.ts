import type { CliIO } from '../src/index.js';

/** A CLI IO that keeps what a command prints, so tests can read it. */
export function captureIO(options: { cwd?: string; isTTY?: boolean } = {}): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    cwd: options.cwd ?? process.cwd(),
    isTTY: options.isTTY ?? false,
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
  };
  return io;
}
