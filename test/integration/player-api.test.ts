/**
 * The player API (contract 4b): a player sees and ends its own streams and never another user's, in dev mode
 * (`?userId=`) and in jwt mode (`Authorization: Bearer TOKEN`); every answer carries CORS; hostile input gets a clear
 * 4xx and writes nothing. Real sockets through the emulator, a real DynamoDB Local.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/port.js';
import { type LocalSigningKey, mintToken, newSigningKey } from '../../local/signing-key.js';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, recordUntilClose } from '../support/ended.js';
import { Players } from '../support/players.js';
import { answers, portOf, rawRequest } from '../support/raw-http.js';
import { request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let dev: LocalStack;
let jwt: LocalStack;
let devStore: StreamStore;
let jwtStore: StreamStore;
let key: LocalSigningKey;
const devPlayers = new Players(() => dev);
const jwtPlayers = new Players(() => jwt);

beforeAll(async () => {
  key = await newSigningKey();
  [dev, jwt] = await Promise.all([
    startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 }),
    startTestStack({ authMode: 'jwt', streamLimit: 3, signingKey: key, sweepIntervalSeconds: 0 }),
  ]);
  devStore = storeFor(dev);
  jwtStore = storeFor(jwt);
});

afterAll(async () => {
  devPlayers.endAll();
  jwtPlayers.endAll();
  await Promise.all([dev?.stop(), jwt?.stop()]);
});

const asUser = (path: string, userId: string) => `${path}${path.includes('?') ? '&' : '?'}userId=${userId}`;
const devCall = (path: string, method = 'GET') => fetch(`${dev.httpUrl}${path}`, { method });
const jwtCall = (path: string, token: string | null, method = 'GET') =>
  fetch(`${jwt.httpUrl}${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
const viewOf = async (res: Response) => (await res.json()) as Record<string, unknown> & { streams: StreamView[] };
type StreamView = { streamId: string | null; device: string | null; connectedAt: string; lastSeenAt: string };

/** What the store holds for a user: the counter and the ids it counts. */
const counted = async (store: StreamStore, userId: string) => {
  const counter = await store.getCounter(userId);
  return { active: counter.active, streams: [...counter.streams.keys()].sort(), members: counter.counted.size };
};

describe('player API, dev mode (?userId=)', () => {
  it("lists the caller's own streams with the devices holding them, the limit and the policy", async () => {
    // Prepare
    const userId = newUserId();
    await devPlayers.openWithId({ userId, streamId: 'a', device: 'Living room TV' });
    await devPlayers.openWithId({ userId, streamId: 'b', device: 'Phone' });
    await devPlayers.openWithId({ userId: newUserId(), streamId: 'a', device: 'someone else' });

    // Act
    const res = await devCall(asUser('/me/streams', userId));
    const view = await viewOf(res);

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(view).toMatchObject({ userId, limit: 3, active: 2, policy: 'block-new' });
    expect(view.streams.map((s) => [s.streamId, s.device])).toEqual([
      ['b', 'Phone'],
      ['a', 'Living room TV'],
    ]);
    expect(Object.keys(view.streams[0]!).sort()).toEqual(['connectedAt', 'device', 'lastSeenAt', 'streamId']);
    expect(Object.keys(view).sort()).toEqual(['active', 'limit', 'policy', 'streams', 'userId']);
  });

  it('says when each stream was last seen, which a heartbeat renews', async () => {
    // Prepare
    const userId = newUserId();
    const { socket } = await devPlayers.openWithId({ userId, streamId: 'watching' });
    await sleep(1_500);
    await request(socket, { action: 'heartbeat' });

    // Act
    const view = await viewOf(await devCall(asUser('/me/streams', userId)));

    // Assess
    const [stream] = view.streams;
    expect(Date.parse(stream!.lastSeenAt) - Date.parse(stream!.connectedAt)).toBeGreaterThanOrEqual(1_400);
  });

  it('ends one of the caller streams: endedByUser arrives before the close, and the slot is free at the 204', async () => {
    // Prepare: the user at the limit
    const userId = newUserId();
    const { socket } = await devPlayers.openWithId({ userId, streamId: 'movie', device: 'tv' });
    await devPlayers.openWithId({ userId, streamId: 'b' });
    await devPlayers.openWithId({ userId, streamId: 'c' });
    const ending = recordUntilClose(socket);

    // Act
    const res = await devCall(asUser('/me/streams/movie', userId), 'DELETE');
    const afterAnswer = await counted(devStore, userId);
    const next = await devPlayers.open({ userId, streamId: 'd' });
    const end = await ending;

    // Assess
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(afterAnswer).toEqual({ active: 2, streams: ['b', 'c'], members: 2 });
    expect(next.status).toBe(101);
    expect(end.frames.at(-1)).toEqual({ type: 'ended', reason: 'endedByUser', device: null });
    expect(endedFrames(end)).toHaveLength(1);
    expect(end.code).toBe(1000);
  });

  it('answers 404 for a stream the caller does not hold, and leaves the owner stream alone', async () => {
    // Prepare
    const owner = newUserId();
    const stranger = newUserId();
    const { socket } = await devPlayers.openWithId({ userId: owner, streamId: 'theirs', device: 'tv' });
    await devPlayers.openWithId({ userId: stranger, streamId: 'mine' });

    // Act
    const byStranger = await devCall(asUser('/me/streams/theirs', stranger), 'DELETE');
    const unknown = await devCall(asUser('/me/streams/never-opened', owner), 'DELETE');
    const strangersView = await viewOf(await devCall(asUser('/me/streams', stranger)));

    // Assess
    expect(byStranger.status).toBe(404);
    expect((await byStranger.json()).error.code).toBe('STREAM_NOT_FOUND');
    expect(unknown.status).toBe(404);
    expect(strangersView.streams.map((s) => s.streamId)).toEqual(['mine']);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(await counted(devStore, owner)).toEqual({ active: 1, streams: ['theirs'], members: 1 });
  });

  it('answers 404 for a stream it already ended', async () => {
    const userId = newUserId();
    await devPlayers.openWithId({ userId, streamId: 'once' });

    const first = await devCall(asUser('/me/streams/once', userId), 'DELETE');
    const second = await devCall(asUser('/me/streams/once', userId), 'DELETE');

    expect([first.status, second.status]).toEqual([204, 404]);
  });

  it('takes built-in names as plain names: a user named __proto__ sees and ends its stream named constructor', async () => {
    // Prepare: both are valid ids by the contract's alphabet, and the socket admits them
    const { socket } = await devPlayers.openWithId({ userId: '__proto__', streamId: 'constructor', device: 'tv' });
    const ending = recordUntilClose(socket);

    // Act
    const view = await viewOf(await devCall('/me/streams?userId=__proto__'));
    const ended = await devCall('/me/streams/constructor?userId=__proto__', 'DELETE');

    // Assess
    expect(view).toMatchObject({ userId: '__proto__', streams: [{ streamId: 'constructor', device: 'tv' }] });
    expect(ended.status).toBe(204);
    expect((await ending).frames.at(-1)).toMatchObject({ reason: 'endedByUser' });
  });

  it('answers a CORS preflight without identity, allowing the Authorization header', async () => {
    const res = await fetch(`${dev.httpUrl}/me/streams/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'DELETE' },
    });

    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('does not want the admin token: players are not staff', async () => {
    const res = await devCall(asUser('/me/streams', newUserId()));

    expect(res.status).toBe(200);
  });
});

describe('player API, hostile input', () => {
  const huge = 'x'.repeat(129);
  it.each([
    ['no identity', 'GET', '/me/streams', 401, 'UNAUTHORIZED'],
    ['an empty userId', 'GET', '/me/streams?userId=', 401, 'UNAUTHORIZED'],
    ['a method and path that do not exist, without identity', 'PUT', '/me/other', 401, 'UNAUTHORIZED'],
    ['userId given twice', 'GET', '/me/streams?userId=a&userId=b', 400, 'INVALID_PARAMETER'],
    ['a userId off the alphabet', 'GET', '/me/streams?userId=a%20b', 400, 'INVALID_USER_ID'],
    ['a userId with a broken escape', 'GET', '/me/streams?userId=a%E0%A4%A', 400, 'INVALID_USER_ID'],
    ['a huge userId', 'GET', `/me/streams?userId=${huge}`, 400, 'INVALID_USER_ID'],
    ['a broken escape in the path', 'DELETE', '/me/streams/%E0%A4%A?userId=victim', 400, 'INVALID_PATH'],
    ['an encoded slash in the stream id', 'DELETE', '/me/streams/a%2Fb?userId=victim', 400, 'INVALID_STREAM_ID'],
    ['a huge stream id', 'DELETE', `/me/streams/${huge}?userId=victim`, 400, 'INVALID_STREAM_ID'],
    ['__proto__ as a stream id', 'DELETE', '/me/streams/__proto__?userId=victim', 404, 'STREAM_NOT_FOUND'],
    ['constructor as a stream id', 'DELETE', '/me/streams/constructor?userId=victim', 404, 'STREAM_NOT_FOUND'],
    ['a path below a stream', 'DELETE', '/me/streams/held/x?userId=victim', 404, 'NOT_FOUND'],
    ['an unknown route', 'GET', '/me/other?userId=victim', 404, 'NOT_FOUND'],
    ['POST on the list', 'POST', '/me/streams?userId=victim', 405, 'METHOD_NOT_ALLOWED'],
    ['GET on a stream', 'GET', '/me/streams/held?userId=victim', 405, 'METHOD_NOT_ALLOWED'],
  ])('answers %s with %s %s → %i %s, with CORS, and writes nothing', async (_name, method, path, status, code) => {
    // Prepare: a user holding one stream, whom every request names (in the query, or as the stream's owner)
    const victim = newUserId();
    await devPlayers.openWithId({ userId: victim, streamId: 'held', device: 'tv' });
    const before = await counted(devStore, victim);

    // Act
    const res = await devCall(path.replace('victim', victim), method);
    const body = await res.json();

    // Assess
    expect(res.status).toBe(status);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(body).toEqual({ error: { code, message: expect.any(String) } });
    expect(await counted(devStore, victim)).toEqual(before);
  });

  it('refuses a body over 64 KB with 413, and ends nothing', async () => {
    const userId = newUserId();
    const { socket } = await devPlayers.openWithId({ userId, streamId: 'held' });

    const res = await fetch(`${dev.httpUrl}${asUser('/me/streams/held', userId)}`, {
      method: 'DELETE',
      body: 'x'.repeat(65 * 1024),
    });

    expect(res.status).toBe(413);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(socket.readyState).toBe(socket.OPEN);
  });

  it('keeps serving when a client sends half a body and hangs up, and ends nothing', async () => {
    // Prepare
    const userId = newUserId();
    const { socket } = await devPlayers.openWithId({ userId, streamId: 'held' });
    const port = portOf(dev.httpUrl);
    const partial =
      `DELETE /me/streams/held?userId=${userId} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      'Content-Length: 1000\r\n\r\n{"a":';

    // Act
    await rawRequest(port, partial, { abortAfterMs: 100 });

    // Assess
    expect(await answers(port)).toBe(true);
    expect(socket.readyState).toBe(socket.OPEN);
    expect((await counted(devStore, userId)).active).toBe(1);
  });
});

describe('player API, jwt mode (Authorization: Bearer)', () => {
  it("shows and ends only the token holder's streams, tried with two identities", async () => {
    // Prepare: alice and bob each hold a stream of the same name
    const alice = newUserId('alice');
    const bob = newUserId('bob');
    const [aliceToken, bobToken] = await Promise.all([
      mintToken(key, { userId: alice }),
      mintToken(key, { userId: bob }),
    ]);
    const { socket: aliceSocket } = await jwtPlayers.openWithId({
      token: aliceToken,
      streamId: 'same',
      device: 'a-tv',
    });
    const { socket: bobSocket } = await jwtPlayers.openWithId({ token: bobToken, streamId: 'same', device: 'b-tv' });
    await jwtPlayers.openWithId({ token: bobToken, streamId: 'bobs-only', device: 'b-phone' });
    const aliceEnding = recordUntilClose(aliceSocket);

    // Act
    const aliceView = await viewOf(await jwtCall('/me/streams', aliceToken));
    const bobView = await viewOf(await jwtCall('/me/streams', bobToken));
    const aliceEndsBobsOnly = await jwtCall('/me/streams/bobs-only', aliceToken, 'DELETE');
    const aliceEndsHers = await jwtCall('/me/streams/same', aliceToken, 'DELETE');
    const aliceAgain = await jwtCall('/me/streams/same', aliceToken, 'DELETE');

    // Assess
    expect(aliceView).toMatchObject({ userId: alice, active: 1, streams: [{ streamId: 'same', device: 'a-tv' }] });
    expect(bobView).toMatchObject({ userId: bob, active: 2 });
    expect(bobView.streams.map((s) => s.device)).toEqual(['b-phone', 'b-tv']);
    expect(aliceEndsBobsOnly.status).toBe(404);
    expect(aliceEndsHers.status).toBe(204);
    expect(aliceAgain.status).toBe(404);
    expect((await aliceEnding).frames.at(-1)).toEqual({ type: 'ended', reason: 'endedByUser', device: null });
    expect(bobSocket.readyState).toBe(bobSocket.OPEN);
    expect(await counted(jwtStore, bob)).toEqual({ active: 2, streams: ['bobs-only', 'same'], members: 2 });
    expect(await counted(jwtStore, alice)).toEqual({ active: 0, streams: [], members: 0 });
  });

  it('takes the caller from the token and ignores ?userId=', async () => {
    // Prepare
    const alice = newUserId('alice');
    const bob = newUserId('bob');
    const bobToken = await mintToken(key, { userId: bob });
    await jwtPlayers.openWithId({ token: await mintToken(key, { userId: alice }), streamId: 'hers' });
    const { socket } = await jwtPlayers.openWithId({ token: bobToken, streamId: 'his' });

    // Act
    const view = await viewOf(await jwtCall(`/me/streams?userId=${alice}`, bobToken));
    const end = await jwtCall(`/me/streams/hers?userId=${alice}`, bobToken, 'DELETE');

    // Assess
    expect(view).toMatchObject({ userId: bob, streams: [{ streamId: 'his' }] });
    expect(end.status).toBe(404);
    expect(socket.readyState).toBe(socket.OPEN);
    expect((await counted(jwtStore, alice)).active).toBe(1);
  });

  it("shows the plan's limit from the token", async () => {
    const userId = newUserId();
    const token = await mintToken(key, { userId, limit: 2 });
    await jwtPlayers.openWithId({ token, streamId: 'one' });

    const view = await viewOf(await jwtCall('/me/streams', token));

    expect(view).toMatchObject({ userId, limit: 2, active: 1 });
  });

  it("shows the plan's limit from the token while no stream is open, and the default for a token without one", async () => {
    // Prepare: a player on a plan of 2 and one without a plan, neither watching anything
    const [planned, unplanned] = [newUserId(), newUserId()];
    const [plannedToken, unplannedToken] = await Promise.all([
      mintToken(key, { userId: planned, limit: 2 }),
      mintToken(key, { userId: unplanned }),
    ]);

    // Act
    const plannedView = await viewOf(await jwtCall('/me/streams', plannedToken));
    const unplannedView = await viewOf(await jwtCall('/me/streams', unplannedToken));

    // Assess: what their next connect is held to
    expect(plannedView).toMatchObject({ userId: planned, limit: 2, active: 0, streams: [] });
    expect(unplannedView).toMatchObject({ userId: unplanned, limit: 3, active: 0, streams: [] });
  });

  it.each([
    ['no token, only ?userId=', null],
    ['a token that is not one', 'not-a-token'],
  ])('answers %s with 401 and CORS, and ends nothing', async (_name, token) => {
    // Prepare
    const userId = newUserId();
    const { socket } = await jwtPlayers.openWithId({ token: await mintToken(key, { userId }), streamId: 'held' });

    // Act
    const list = await jwtCall(`/me/streams?userId=${userId}`, token);
    const end = await jwtCall(`/me/streams/held?userId=${userId}`, token, 'DELETE');

    // Assess
    expect([list.status, end.status]).toEqual([401, 401]);
    expect(list.headers.get('access-control-allow-origin')).toBe('*');
    expect((await list.json()).error.code).toBe('UNAUTHORIZED');
    expect(socket.readyState).toBe(socket.OPEN);
  });

  it('answers an expired token with 401', async () => {
    const token = await mintToken(key, {
      userId: newUserId(),
      issuedAt: Math.floor(Date.now() / 1000) - 7200,
      ttlSeconds: 60,
    });

    const res = await jwtCall('/me/streams', token);

    expect(res.status).toBe(401);
  });
});
