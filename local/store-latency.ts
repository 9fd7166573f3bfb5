/**
 * `FAULT_STORE_LATENCY`: every DynamoDB call of the handlers delayed, part before it reaches the store and the rest
 * before its answer comes back, as a throttled DynamoDB with SDK retries answers in a busy region. The spec is a
 * distribution of `share:min-max` bands (ms), e.g. `0.85:1-8,0.12:30-200,0.03:800-2500`; shares add up to at most 1,
 * and calls outside every band are not delayed.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface LatencyBand {
  share: number;
  minMs: number;
  maxMs: number;
}

/** Long enough for any fault worth injecting, short of API Gateway's 29 s integration timeout. */
const MAX_DELAY_MS = 20_000;
const MAX_BANDS = 16;
const BAND = /^(\d+(?:\.\d+)?|\.\d+):(\d+)-(\d+)$/;

export const STORE_LATENCY_FORMAT =
  `must be share:min-max bands (ms) separated by commas, e.g. 0.85:1-8,0.12:30-200,0.03:800-2500; ` +
  `shares from 0 to 1 adding up to at most 1, min <= max <= ${MAX_DELAY_MS}, at most ${MAX_BANDS} bands`;

/** The bands of a spec, or undefined when it is malformed (the caller names the setting). */
export function parseStoreLatency(spec: string): LatencyBand[] | undefined {
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.length > MAX_BANDS) return undefined;
  const bands: LatencyBand[] = [];
  for (const part of parts) {
    const match = BAND.exec(part);
    if (!match) return undefined;
    const [share, minMs, maxMs] = [Number(match[1]), Number(match[2]), Number(match[3])];
    if (!(share >= 0 && share <= 1) || minMs > maxMs || maxMs > MAX_DELAY_MS) return undefined;
    bands.push({ share, minMs, maxMs });
  }
  const total = bands.reduce((sum, b) => sum + b.share, 0);
  return total <= 1 + 1e-9 ? bands : undefined;
}

/** One call's whole delay, ms, drawn from the bands. */
export function sampleDelay(bands: readonly LatencyBand[], random: () => number): number {
  let pick = random();
  for (const band of bands) {
    if (pick < band.share) return band.minMs + random() * (band.maxMs - band.minMs);
    pick -= band.share;
  }
  return 0;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Delays every call the client sends: one delay per call, split at random between the way there and the way back, so
 * a write may commit early and answer late, or commit late. Added at `initialize`, before the SDK's own retries.
 */
export function delayStoreCalls(
  client: DynamoDBDocumentClient,
  bands: readonly LatencyBand[],
  random: () => number = Math.random,
): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const total = sampleDelay(bands, random);
      const before = total * random();
      if (before > 0) await sleep(before);
      const result = await next(args);
      if (total - before > 0) await sleep(total - before);
      return result;
    },
    { step: 'initialize', name: 'faultStoreLatency' },
  );
}
