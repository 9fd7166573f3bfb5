import { LIMIT_OVERRIDE_RANGE } from './ranges.js';
import * as z from './zod.js';

/** The contract's alphabet for user and stream ids. */
const ID_PATTERN = /^[A-Za-z0-9._\-:@]{1,128}$/;
/**
 * "Printable": no control, format or unassigned code points, and no line or paragraph separator (U+2028, U+2029):
 * Unicode-aware log viewers break lines at those as at a newline, so a label holding one could forge a log line.
 */
const LABEL_PATTERN = /^[^\p{C}\p{Zl}\p{Zp}]{1,128}$/u;

export const UserIdSchema = z.string().check(z.regex(ID_PATTERN, 'userId must be 1 to 128 of A-Z a-z 0-9 . _ - : @'));
export const StreamIdSchema = z
  .string()
  .check(z.regex(ID_PATTERN, 'streamId must be 1 to 128 of A-Z a-z 0-9 . _ - : @'));
export const DeviceSchema = z.string().check(z.regex(LABEL_PATTERN, 'device must be 1 to 128 printable characters'));
export const LimitSchema = z
  .number()
  .check(z.int(), z.minimum(LIMIT_OVERRIDE_RANGE.min), z.maximum(LIMIT_OVERRIDE_RANGE.max));

export type ParamCheck<T> = { ok: true; value: T } | { ok: false; message: string };

export function check<T>(schema: z.ZodMiniType<T>, value: unknown): ParamCheck<T> {
  const result = schema.safeParse(value);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, message: result.error.issues[0]?.message ?? 'invalid value' };
}
