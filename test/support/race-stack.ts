/**
 * The set-up the race tests share: a local stack of their own with the background sweep off (so it cannot help),
 * a store on its table, the sockets they open (closed at the end, whoever opened them) and no fault carried over from
 * one test to the next.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type WebSocket from 'ws';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack, LocalStackOptions } from '../../local/stack.js';
import { openRecording, type RecordedOpen } from './ended.js';
import { Players } from './players.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, startTestStack, storeFor } from './stack.js';

export interface RaceStack {
  /** set before the first test runs */
  readonly stack: LocalStack;
  readonly store: StreamStore;
  readonly players: Players;
  /** every socket opened through `openRecorded`, terminated after the last test */
  readonly sockets: WebSocket[];
  /** a socket recorded from before its handshake (see openRecording) */
  openRecorded(params: Record<string, string>): Promise<RecordedOpen>;
}

export function useRaceStack(options: LocalStackOptions): RaceStack {
  let stack: LocalStack | undefined;
  let store: StreamStore | undefined;
  const sockets: WebSocket[] = [];
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the race stack is used before beforeAll started it');
    return value;
  };
  const race: RaceStack = {
    get stack() {
      return ready(stack);
    },
    get store() {
      return ready(store);
    },
    players: new Players(() => ready(stack)),
    sockets,
    openRecorded: (params) => openRecording(ready(stack).wsUrl, params, sockets),
  };
  beforeAll(async () => {
    stack = await startTestStack({
      sweepIntervalSeconds: 0,
      openingWindowSeconds: FAST_STORE_OPENING_WINDOW_SECONDS,
      ...options,
    });
    store = storeFor(stack);
  });
  afterEach(() => stack?.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 }));
  afterAll(async () => {
    race.players.endAll();
    for (const s of sockets) s.terminate();
    await stack?.stop();
  });
  return race;
}
