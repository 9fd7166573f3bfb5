import * as z from 'zod';

/** The contract's alphabet for user and stream ids. */
const ID_PATTERN = /^[A-Za-z0-9._\-:@]{1,128}$/;
/** "Printable": no control, format or unassigned code points. */
const LABEL_PATTERN = /^[^\p{C}]{1,128}$/u;

export const UserIdSchema = z.string().regex(ID_PATTERN, 'userId must be 1 to 128 of A-Z a-z 0-9 . _ - : @');
export const StreamIdSchema = z.string().regex(ID_PATTERN, 'streamId must be 1 to 128 of A-Z a-z 0-9 . _ - : @');
export const DeviceSchema = z.string().regex(LABEL_PATTERN, 'device must be 1 to 128 printable characters');
export const LimitSchema = z.number().int().min(0).max(100);

export type ParamCheck<T> = { ok: true; value: T } | { ok: false; message: string };

export function check<T>(schema: z.ZodType<T>, value: unknown): ParamCheck<T> {
  const result = schema.safeParse(value);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, message: result.error.issues[0]?.message ?? 'invalid value' };
}
