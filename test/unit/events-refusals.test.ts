/**
 * `stream.refused` from the refusal log line (core/events/refusals.ts) and from a log subscription's batch
 * (handlers/routes/events.ts), with no I/O: any line, however hostile, is a refusal or nothing, never a crash.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REFUSAL_LOG_MESSAGE, refusalFromLogLine, refusedEvent } from '../../core/events/refusals.js';
import { eventData } from '../../core/events/schema.js';
import { refusalsOf } from '../../handlers/routes/events.js';

/** The line Powertools writes for a refusal (handlers/routes/connect.ts). */
const line = (fields: Record<string, unknown>) =>
  JSON.stringify({
    level: 'INFO',
    message: REFUSAL_LOG_MESSAGE,
    timestamp: '2026-12-07T10:00:00.000Z',
    service: 'streamgate',
    userId: 'alice',
    connectionId: 'abc=',
    streamId: 'movie',
    device: 'tv',
    sourceIp: '198.51.100.7',
    active: 3,
    limit: 3,
    ...fields,
  });

describe('When a refusal line is read', () => {
  it('makes the refusal event of that connection, with the network and never the address', () => {
    // Act
    const refusal = refusalFromLogLine(line({}));

    // Assess
    const event = refusedEvent(refusal!);
    expect(event).toMatchObject({
      id: 'abc=/refused',
      type: 'stream.refused',
      subject: 'alice',
      time: '2026-12-07T10:00:00.000Z',
      data: { userId: 'alice', connectionId: 'abc=', streamId: 'movie', device: 'tv', network: '198.51.100.0/24' },
    });
    expect(JSON.stringify(event)).not.toContain('198.51.100.7');
    expect(() => eventData['stream.refused'].parse(event.data)).not.toThrow();
  });

  it('takes any other line, or a refusal line with a field missing or malformed, as no refusal', () => {
    for (const other of [
      '',
      'not json',
      'null',
      '[]',
      JSON.stringify({ message: 'stream taken over' }),
      line({ userId: undefined }),
      line({ active: -1 }),
      line({ limit: 2.5 }),
      line({ timestamp: 'yesterday' }),
      line({ connectionId: 'x'.repeat(300) }),
      line({ userId: { __proto__: { polluted: true } } }),
    ]) {
      expect(refusalFromLogLine(other)).toBeUndefined();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never throws, whatever the line', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ message: REFUSAL_LOG_MESSAGE, v })),
        ),
        (text) => {
          const refusal = refusalFromLogLine(text);
          if (refusal) expect(() => eventData['stream.refused'].parse(refusedEvent(refusal).data)).not.toThrow();
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('When CloudWatch Logs hands over a batch', () => {
  it('unpacks it and keeps the refusal lines only', () => {
    // Prepare
    const batch = {
      messageType: 'DATA_MESSAGE',
      logEvents: [
        { id: '1', timestamp: 0, message: line({}) },
        { id: '2', timestamp: 0, message: JSON.stringify({ message: 'connect failed' }) },
        { id: '3', timestamp: 0, message: line({ connectionId: 'def=' }) },
      ],
    };
    const data = gzipSync(JSON.stringify(batch)).toString('base64');

    // Act
    const events = refusalsOf({ awslogs: { data } });

    // Assess
    expect(events.map((e) => e.id)).toEqual(['abc=/refused', 'def=/refused']);
  });
});
