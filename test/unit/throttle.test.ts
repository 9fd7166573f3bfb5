import { describe, expect, it } from 'vitest';
import { MessageThrottle, TokenBucket, tooManyRequestsFrame } from '../../local/gateway/throttle.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const settings = (over: Partial<ConstructorParameters<typeof MessageThrottle>[0]> = {}) => ({
  rateLimit: 10,
  burstLimit: 5,
  routes: [],
  maxInFlight: 100,
  maxInFlightPerConnection: 100,
  ...over,
});

describe('token bucket', () => {
  it('starts full, empties by its burst, and refills at its rate up to the burst', () => {
    // Prepare
    const time = clock();
    const bucket = new TokenBucket(10, 3, time.now);

    // Act
    const taken = [];
    for (let i = 0; i < 4; i++) {
      const has = bucket.has();
      if (has) bucket.take();
      taken.push(has);
    }
    time.advance(100); // one token at 10 a second
    const afterOneTenth = bucket.has();
    time.advance(60_000);
    let afterAMinute = 0;
    while (bucket.has()) {
      bucket.take();
      afterAMinute++;
    }

    // Assess
    expect(taken).toEqual([true, true, true, false]);
    expect(afterOneTenth).toBe(true);
    expect(afterAMinute).toBe(3);
  });
});

describe('message throttle', () => {
  it('throttles past the stage burst, and again lets through what the rate refills', () => {
    const time = clock();
    const throttle = new MessageThrottle(settings(), time.now);

    const first = Array.from({ length: 6 }, () => throttle.admit('c', '$default'));
    time.advance(200);
    const later = [throttle.admit('c', '$default'), throttle.admit('c', '$default'), throttle.admit('c', '$default')];

    expect(first).toEqual([undefined, undefined, undefined, undefined, undefined, 'stage']);
    expect(later).toEqual([undefined, undefined, 'stage']);
  });

  it('takes no token from the stage for a message its route refuses, nor from the route for one the stage refuses', () => {
    const time = clock();
    const throttle = new MessageThrottle(
      settings({ burstLimit: 3, routes: [{ route: 'heartbeat', rateLimit: 0.001, burstLimit: 1 }] }),
      time.now,
    );

    const answers = [
      throttle.admit('c', 'heartbeat'),
      throttle.admit('c', 'heartbeat'), // the route is empty: the stage keeps its token
      throttle.admit('c', '$default'),
      throttle.admit('c', '$default'),
      throttle.admit('c', '$default'), // the stage is empty now
    ];

    expect(answers).toEqual([undefined, 'route', undefined, undefined, 'stage']);
    expect(throttle.snapshot().throttled).toEqual({ connectionInFlight: 0, totalInFlight: 0, stage: 1, route: 1 });
  });

  it('bounds the messages in flight per connection and in total, and frees them when answered', () => {
    const throttle = new MessageThrottle(settings({ burstLimit: 100, maxInFlight: 3, maxInFlightPerConnection: 2 }));

    for (const c of ['a', 'a', 'b']) expect(throttle.admit(c, '$default')).toBeUndefined();
    const aThird = throttle.precheck('a');
    const anyFourth = throttle.precheck('c');
    throttle.done('a');
    const aAfterOneAnswered = throttle.precheck('a');

    expect(aThird).toBe('connectionInFlight');
    expect(anyFourth).toBe('totalInFlight');
    expect(aAfterOneAnswered).toBeUndefined();
    expect(throttle.snapshot()).toMatchObject({ inFlight: 2, maxInFlight: 3, maxInFlightPerConnection: 2 });
  });

  it('throttles $connect only when it has a route limit', () => {
    const open = new MessageThrottle(settings({ burstLimit: 1 }));
    const limited = new MessageThrottle(settings({ routes: [{ route: '$connect', rateLimit: 0.001, burstLimit: 1 }] }));

    expect([open.admitConnect(), open.admitConnect()]).toEqual([true, true]);
    expect([limited.admitConnect(), limited.admitConnect()]).toEqual([true, false]);
  });

  it("answers with API Gateway's error frame", () => {
    expect(JSON.parse(tooManyRequestsFrame('L0SM9cOFvHcCIhw=', 'PbTk7ET8IAMFs2g='))).toEqual({
      message: 'Too Many Requests',
      connectionId: 'L0SM9cOFvHcCIhw=',
      requestId: 'PbTk7ET8IAMFs2g=',
    });
  });
});
