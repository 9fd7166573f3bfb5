/**
 * A `device` label is shown to viewers and staff and written to logs: any printable text up to 128 characters, and
 * nothing that splits a log line. Unicode-aware viewers break lines at U+2028 and U+2029 (line and paragraph
 * separators) as they do at a newline, so those are refused like control characters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, DeviceSchema } from '../../core/params.js';

const LINE_BREAKERS = ['\n', '\r', '\u0085', '\u2028', '\u2029', '\u000b', '\u000c'];

describe('When a player names its device', () => {
  it.each(LINE_BREAKERS.map((c) => [`U+${c.codePointAt(0)!.toString(16).padStart(4, '0')}`, c]))(
    'refuses a label holding %s, which splits a log line',
    (_name, breaker) => {
      expect(check(DeviceSchema, `Living room${breaker}TV`).ok).toBe(false);
    },
  );

  it('refuses any label with a line or paragraph separator anywhere in it', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }),
        fc.constantFrom('\u2028', '\u2029'),
        fc.string({ maxLength: 60 }),
        (before, separator, after) => !check(DeviceSchema, `${before}${separator}${after}`).ok,
      ),
    );
  });

  it('accepts printable text in any script, spaces included, up to 128 characters', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'Z', '7', ' ', 'é', 'ж', '電', '✓', '🙂', '-', '(', ')'), {
          minLength: 1,
          maxLength: 64,
        }),
        (chars) => check(DeviceSchema, chars.join('')).ok,
      ),
    );
  });
});
