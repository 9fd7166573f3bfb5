/** Pass or fail, and the exit code that says why (contract section 7). */

export type ExitCode = 0 | 1 | 3;

export interface Verdict {
  pass: boolean;
  /** 0 pass, 1 limit violations or a threshold missed, 3 some user locked out */
  exitCode: ExitCode;
  /** one line per reason the run failed; empty when it passed */
  reasons: string[];
}

export interface VerdictInput {
  violations: number;
  lockedOut: number;
}

export function judge(r: VerdictInput): Verdict {
  const reasons: string[] = [];
  if (r.violations > 0) reasons.push(`${r.violations} users held more streams than the limit`);
  if (r.lockedOut > 0) reasons.push(`${r.lockedOut} users could not hold their share again`);
  // A violation is the worst outcome (the guard failed), then a lockout (a user cannot watch).
  const exitCode: ExitCode = r.violations > 0 ? 1 : r.lockedOut > 0 ? 3 : 0;
  return { pass: reasons.length === 0, exitCode, reasons };
}
