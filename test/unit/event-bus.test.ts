/**
 * The events' way out in AWS (handlers/lib/event-bus.ts) and Lambda's stream records read as table changes, with no
 * I/O: EventBridge is not on this machine, so a client that records what it is sent stands in for it.
 */
import type { PutEventsCommand, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { changeOf } from '../../core/events/records.js';
import { cloudEvent } from '../../core/events/schema.js';
import { EventBusSink, EventPublishError } from '../../handlers/lib/event-bus.js';

const event = (n: number) =>
  cloudEvent('user.limitChanged', {
    id: `u/limit/${n}`,
    subject: 'u',
    time: 1_700_000_000_000 + n,
    data: { userId: 'u', limit: n, previous: null },
  });

function recordingClient(answer: (entries: number) => Partial<PutEventsCommandOutput> = () => ({})) {
  const calls: PutEventsCommand['input'][] = [];
  return {
    calls,
    send: async (command: PutEventsCommand) => {
      calls.push(command.input);
      return answer(command.input.Entries?.length ?? 0);
    },
  };
}

describe('When events go to the bus', () => {
  it('sends them in order, ten to a call, each the whole CloudEvent under its type', async () => {
    // Prepare
    const client = recordingClient();
    const sink = new EventBusSink(client as never, 'streamgate');

    // Act
    await sink.deliver(Array.from({ length: 23 }, (_, n) => event(n)));

    // Assess
    expect(client.calls.map((c) => c.Entries?.length)).toEqual([10, 10, 3]);
    const entries = client.calls.flatMap((c) => c.Entries ?? []);
    expect(entries.map((e) => JSON.parse(e.Detail!).id)).toEqual(Array.from({ length: 23 }, (_, n) => `u/limit/${n}`));
    expect(entries[0]).toMatchObject({
      EventBusName: 'streamgate',
      Source: 'streamgate',
      DetailType: 'user.limitChanged',
    });
  });

  it('fails the batch when EventBridge refuses an entry, so that Lambda retries it', async () => {
    // Prepare
    const client = recordingClient((n) => ({
      FailedEntryCount: 1,
      Entries: Array.from({ length: n }, (_, i) => (i === 1 ? { ErrorCode: 'ThrottlingException' } : { EventId: 'x' })),
    }));
    const sink = new EventBusSink(client as never, 'streamgate');

    // Act
    const delivered = sink.deliver([event(1), event(2)]);

    // Assess
    await expect(delivered).rejects.toThrow(EventPublishError);
    await expect(delivered).rejects.toThrow(/ThrottlingException/);
  });
});

describe('When Lambda hands over a stream record', () => {
  it('decodes the images of counters only, and leaves out an attribute it cannot read, never the record', () => {
    // Act
    const audit = changeOf({
      dynamodb: { Keys: { pk: { S: 'user#a' }, sk: { S: 'audit#1' } }, NewImage: { detail: {} }, SequenceNumber: '1' },
    });
    const counter = changeOf({
      dynamodb: {
        Keys: { pk: { S: 'user#a' }, sk: { S: 'counter' } },
        NewImage: { active: { N: '1' }, odd: {}, __proto__: { S: 'x' } } as never,
        SequenceNumber: '2',
      },
    });

    // Assess
    expect(audit.new).toBeUndefined();
    expect(counter.new).toEqual({ active: 1 });
  });

  it('reads its keys, images and time (epoch seconds) as the local reader does', () => {
    // Act
    const change = changeOf({
      dynamodb: {
        Keys: { pk: { S: 'user#alice' }, sk: { S: 'counter' } },
        OldImage: { active: { N: '1' } },
        NewImage: { active: { N: '2' }, 'c:abc': { L: [{ N: '5' }, { N: '6' }] } },
        SequenceNumber: '000000000000000000042',
        ApproximateCreationDateTime: 1_700_000_000,
      },
    });

    // Assess
    expect(change).toEqual({
      sequence: '000000000000000000042',
      keys: { pk: 'user#alice', sk: 'counter' },
      old: { active: 1 },
      new: { active: 2, 'c:abc': [5, 6] },
      at: 1_700_000_000_000,
    });
  });
});
