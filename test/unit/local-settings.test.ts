import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localSettings, SETTINGS_ENV, SettingsError, settingsFromEnv } from '../../local/settings.js';

describe('local settings', () => {
  it('has every default in one place', () => {
    expect(settingsFromEnv({})).toEqual({
      host: '127.0.0.1',
      wsPort: 3001,
      httpPort: 3000,
      streamLimit: 3,
      adminToken: undefined,
      authMode: 'dev',
      dataDir: undefined,
      dynamodbEndpoint: undefined,
      limitPolicy: 'block-new',
      leaseSeconds: 300,
      handshakeGraceSeconds: 30,
      openingWindowSeconds: 5,
      resumeHoldSeconds: 10,
      sharingNetworks: 2,
      sharingRefusalsPerDay: 20,
      eventsProcessor: 'on',
      sweepIntervalSeconds: 60,
      idleTimeoutSeconds: 600,
      hardTimeoutSeconds: 7200,
      throttleRateLimit: 100,
      throttleBurstLimit: 200,
      throttleRoutes: [],
      maxMessagesInFlight: 100,
      maxMessagesInFlightPerConnection: 10,
      faultDropDisconnect: 0,
      faultFailHandshake: 0,
      faultStoreLatency: undefined,
      logLevel: 'WARN',
      jwtIssuer: undefined,
      jwtAudience: undefined,
      jwtJwksUrl: undefined,
      jwtPublicKey: undefined,
      jwtLimitClaim: undefined,
      jwtStaffClaim: undefined,
      jwtStaffValue: undefined,
      signingKeyFile: undefined,
      tableName: 'streamgate',
    });
  });

  it('takes either policy at the limit from LIMIT_POLICY', () => {
    expect(settingsFromEnv({ LIMIT_POLICY: 'evict-oldest' }).limitPolicy).toBe('evict-oldest');
    expect(settingsFromEnv({ LIMIT_POLICY: 'block-new' }).limitPolicy).toBe('block-new');
  });

  it('reads the environment, treating an empty variable as unset', () => {
    const settings = settingsFromEnv({ HOST: '0.0.0.0', WS_PORT: '0', HTTP_PORT: '', FAULT_DROP_DISCONNECT: '0.5' });

    expect(settings).toMatchObject({ host: '0.0.0.0', wsPort: 0, httpPort: 3000, faultDropDisconnect: 0.5 });
  });

  it.each([
    ['WS_PORT', '70000'],
    ['HTTP_PORT', 'abc'],
    ['STREAM_LIMIT', '0'],
    ['LIMIT_POLICY', 'evict-newest'],
    ['AUTH_MODE', 'none'],
    ['IDLE_TIMEOUT_SECONDS', String(2 ** 31)],
    ['HARD_TIMEOUT_SECONDS', '7201'],
    ['SWEEP_INTERVAL_SECONDS', '-1'],
    ['LEASE_SECONDS', '1.5'],
    ['FAULT_FAIL_HANDSHAKE', '1.1'],
    ['FAULT_STORE_LATENCY', '0.5:10-5'],
    ['FAULT_STORE_LATENCY', '0.9:1-8,0.2:30-200'],
    ['FAULT_STORE_LATENCY', 'slow'],
    ['OPENING_WINDOW_SECONDS', '0.5'],
    ['OPENING_WINDOW_SECONDS', '21'],
    ['DYNAMODB_ENDPOINT', 'not a url'],
    ['HOST', 'two words'],
    ['THROTTLE_RATE_LIMIT', '0'],
    ['THROTTLE_RATE_LIMIT', '10001'],
    ['THROTTLE_BURST_LIMIT', '5001'],
    ['THROTTLE_BURST_LIMIT', '1.5'],
    ['THROTTLE_ROUTES', '$default'],
    ['THROTTLE_ROUTES', '$default=50'],
    ['THROTTLE_ROUTES', '$default=0/10'],
    ['THROTTLE_ROUTES', '$default=5/0'],
    ['THROTTLE_ROUTES', '$disconnect=5/10'],
    ['THROTTLE_ROUTES', 'a=1/1,a=2/2'],
    ['THROTTLE_ROUTES', 'two words=1/1'],
    ['MAX_MESSAGES_IN_FLIGHT', '0'],
    ['MAX_MESSAGES_IN_FLIGHT_PER_CONNECTION', '1001'],
  ])('refuses %s=%s on one line that names it', (name, value) => {
    expect(() => settingsFromEnv({ [name]: value })).toThrow(SettingsError);
    const shown = value.replace(/[$.*+?()[\]{}|^\\/]/g, '\\$&');
    expect(() => settingsFromEnv({ [name]: value })).toThrow(new RegExp(`^${name} must .*\\(got "${shown}"\\)$`));
  });

  it('reads per-route throttle limits as ROUTE=RATE/BURST pairs, any route key a plain name', () => {
    const settings = settingsFromEnv({ THROTTLE_ROUTES: '$default=50/100, heartbeat=0.5/1,__proto__=1/2' });

    expect(settings.throttleRoutes).toEqual([
      { route: '$default', rateLimit: 50, burstLimit: 100 },
      { route: 'heartbeat', rateLimit: 0.5, burstLimit: 1 },
      { route: '__proto__', rateLimit: 1, burstLimit: 2 },
    ]);
  });

  it('names every bad setting at once', () => {
    expect(() => settingsFromEnv({ WS_PORT: 'x', STREAM_LIMIT: 'y' })).toThrow(/WS_PORT .*; STREAM_LIMIT /);
  });

  it('takes every port from 0 to 65535 and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 200_000 }), (port) => {
        const ok = port >= 0 && port <= 65_535;
        const read = () => settingsFromEnv({ WS_PORT: String(port) }).wsPort;
        if (ok) expect(read()).toBe(port);
        else expect(read).toThrow(SettingsError);
      }),
    );
  });

  it('keeps every timer within what setTimeout can wait', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e10, noNaN: true }), (seconds) => {
        try {
          const s = settingsFromEnv({ IDLE_TIMEOUT_SECONDS: String(seconds), SWEEP_INTERVAL_SECONDS: String(seconds) });
          expect(s.idleTimeoutSeconds * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
          expect(s.sweepIntervalSeconds * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
        } catch (error) {
          expect(error).toBeInstanceOf(SettingsError);
        }
      }),
    );
  });

  it('checks overrides from code against the same ranges', () => {
    expect(localSettings({ idleTimeoutSeconds: 0.4, wsPort: 0 })).toMatchObject({ idleTimeoutSeconds: 0.4, wsPort: 0 });
    expect(() => localSettings({ streamLimit: 0 })).toThrow(/^streamLimit must/);
  });

  it('maps each environment variable to one setting', () => {
    const names = Object.values(SETTINGS_ENV);
    expect(new Set(names).size).toBe(names.length);
  });
});
