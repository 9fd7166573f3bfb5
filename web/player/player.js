/**
 * A demo player for streamgate, and an example for player developers: one browser WebSocket per stream, and the
 * player API (`GET /me/streams`, `DELETE /me/streams/{streamId}`) to explain a refusal and make room.
 *
 * A browser's WebSocket cannot read why a handshake was refused (no status, no body: just `error` and `close`), so a
 * socket that closes before it ever opened is taken as refused, and the player API says which devices hold the slots.
 */

import { createSignIn } from './sign-in.js';

const HEARTBEAT_MS = 60_000;
const TOKEN_KEY = 'streamgate.player.token';
/** The list of streams is read again this often: other devices come and go, and a closed socket's release lags. */
const REFRESH_MS = 3_000;
const LOG_LINES = 50;

/** Why the server ended a socket (the `ended` frame's `reason`), in words for the viewer. */
const ENDED_WORDS = {
  takenOver: (device) => `taken over by ${device ?? 'another device'} (same stream id)`,
  kicked: () => 'ended by support staff',
  endedByUser: () => 'ended from your list of streams',
  evicted: (device) => `ended to make room for ${device ?? 'a new stream'}`,
  uncounted: () => 'ended: the service did not count it',
  idle: () => 'ended after 10 minutes without activity',
  maxDuration: () => 'ended after 2 hours (reconnect to keep watching)',
};

/** What happens at the limit (the player API's `policy`), in words for the viewer. */
const POLICY_WORDS = {
  'block-new': 'at your limit, a new stream is refused',
  'evict-oldest': 'at your limit, your least recently watched stream ends to make room for a new one',
};

const $ = (id) => document.getElementById(id);

/** `{wsUrl, apiUrl, authMode, signIn?}`, written by the local stack or the deployment. */
let config;
/** jwt mode: a pasted token, or Cognito's hosted sign-in when config.json names it (sign-in.js). */
let session;
/** the streams this page opened, in order: {streamId, device, socket, state, words, timer} */
const opened = [];
let streamCounter = 0;

// --- who is watching --------------------------------------------------------------------------------------------

/** jwt mode: the token of the signed-in player, or the one pasted in. */
function token() {
  return session.hosted ? (session.token() ?? '') : $('token').value.trim();
}

/** The identity on the socket's query: `userId` in dev mode, `token` in jwt mode (browsers cannot set headers). */
function identityParams() {
  return config.authMode === 'jwt' ? { token: token() } : { userId: $('user-id').value.trim() };
}

/** The player API, with the same identity: `?userId=` in dev mode, the bearer token in jwt mode. */
async function playerApi(method, path) {
  const url = new URL(`${config.apiUrl}${path}`, location.href);
  const headers = {};
  if (config.authMode === 'jwt') headers.authorization = `Bearer ${token()}`;
  else url.searchParams.set('userId', $('user-id').value.trim());
  const res = await fetch(url, { method, headers });
  const body = res.status === 204 ? undefined : await res.json().catch(() => undefined);
  return { status: res.status, body };
}

// --- opening and closing streams ------------------------------------------------------------------------------

function openFromForm(event) {
  event.preventDefault();
  const streamId = $('stream-id').value.trim() || `stream-${++streamCounter}`;
  const device = $('device').value.trim() || 'Browser';
  $('stream-id').value = '';
  openStream(streamId, device);
}

/**
 * Opens a socket for a stream. A row of this page for the same stream id that is no longer playing (refused, ended,
 * closed) is reused, so a stream tried again shows once, with how its last try went.
 */
function openStream(streamId, device) {
  const url = new URL(config.wsUrl);
  for (const [k, v] of Object.entries({ ...identityParams(), streamId, device })) url.searchParams.set(k, v);

  let entry = opened.find((e) => e.streamId === streamId && e.state !== 'playing' && e.state !== 'connecting');
  if (!entry) {
    entry = { streamId };
    opened.push(entry);
  }
  Object.assign(entry, { device, socket: new WebSocket(url), state: 'connecting', words: 'connecting…' });
  drawOpened();
  listen(entry, entry.socket);
}

function listen(entry, socket) {
  socket.addEventListener('open', () => {
    setState(entry, 'playing', 'playing');
    if ($('heartbeats').checked) entry.timer = setInterval(() => heartbeat(entry), HEARTBEAT_MS);
    void refreshStreams();
  });
  socket.addEventListener('message', (message) => {
    const frame = parse(message.data);
    log(entry.streamId, frameWords(frame, message.data));
    if (frame?.type === 'ended') setState(entry, 'ended', endedWords(frame));
  });
  socket.addEventListener('close', (close) => {
    // A socket this row no longer holds (the row was opened again) has nothing more to say about it.
    if (entry.socket !== socket) return;
    clearInterval(entry.timer);
    if (entry.state === 'connecting') void explainRefusal(entry);
    else if (entry.state === 'playing') setState(entry, 'closed', `closed (code ${close.code})`);
    void refreshStreams();
  });
}

const endedWords = (frame) => ENDED_WORDS[frame.reason]?.(frame.device) ?? `ended (${frame.reason})`;

/** A frame from the server in words (the raw text when it is not one the page knows). */
function frameWords(frame, raw) {
  if (frame?.type === 'ended') return `ended: ${endedWords(frame)}`;
  if (frame?.type === 'heartbeat')
    return `heartbeat answered: lease until ${new Date(frame.leaseExpiresAt).toLocaleTimeString()}`;
  if (frame?.type === 'status') return `status: ${frame.active} of ${frame.limit} streams in use`;
  if (frame?.type === 'error') return `error ${frame.code}: ${frame.message}`;
  // API Gateway's own frames (a throttled message), which the service never saw.
  if (typeof frame?.message === 'string' && frame.type === undefined) return `from API Gateway: ${frame.message}`;
  return String(raw);
}

/** The handshake failed: ask the player API whether the limit is why, and if so, which devices hold the slots. */
async function explainRefusal(entry) {
  setState(entry, 'refused', 'refused');
  const { status, body } = await playerApi('GET', '/me/streams').catch(() => ({ status: 0 }));
  // Only a 200 carries the user's streams; any other answer's body is an error, never a list to draw.
  let words;
  if (status === 401) words = 'Refused: you are not signed in (the token is missing, expired or not valid).';
  else if (status !== 200) words = 'Refused, and the service cannot say why right now: try again in a moment.';
  else if (body.active >= body.limit) {
    const devices = body.streams.map((s) => `${s.device ?? 'unnamed device'} (${s.streamId ?? 'no stream id'})`);
    words =
      `Refused: you are already watching on ${body.active} of ${body.limit} screens: ${devices.join(', ')}. ` +
      'End one of them below to watch here.';
  } else words = 'Refused, although you are under your limit: check the stream id and device, then try again.';
  setState(entry, 'refused', words);
  notify(`${entry.streamId} on ${entry.device}: ${words}`, 'refused');
  if (status === 200) render(body);
  else if (status === 401) $('summary').textContent = 'Not signed in.';
}

function closeStream(entry) {
  setState(entry, 'closed', 'closed by you');
  entry.socket.close(1000);
}

function heartbeat(entry) {
  if (entry.socket.readyState === WebSocket.OPEN) entry.socket.send(JSON.stringify({ action: 'heartbeat' }));
}

// --- the user's streams on every device (player API) ----------------------------------------------------------

async function refreshStreams() {
  const { status, body } = await playerApi('GET', '/me/streams').catch(() => ({ status: 0 }));
  if (status === 200) render(body);
  else $('summary').textContent = status === 401 ? 'Not signed in.' : 'The player API cannot answer right now.';
}

async function endStream(streamId) {
  const { status } = await playerApi('DELETE', `/me/streams/${encodeURIComponent(streamId)}`).catch(() => ({}));
  if (status === 204) notify(`Ended ${streamId}: its slot is free.`, 'ok');
  else if (status === 404) notify(`${streamId} had already ended.`, 'ok');
  else notify(`Could not end ${streamId} (status ${status ?? 'none'}): try again.`, 'refused');
  await refreshStreams();
}

function render(view) {
  const policy = POLICY_WORDS[view.policy] ?? `at your limit: ${view.policy}`;
  $('summary').textContent = `${view.userId}: ${view.active} of ${view.limit} streams in use; ${policy}.`;
  const rows = view.streams.map((s) => {
    const end = button('End', () => void endStream(s.streamId));
    end.setAttribute('aria-label', `End stream ${s.streamId} on ${s.device ?? 'unnamed device'}`);
    // A stream opened without a stream id cannot be named, so it cannot be ended from here.
    end.disabled = s.streamId === null;
    return row(
      [s.device ?? '—', s.streamId ?? '—', new Date(s.connectedAt).toLocaleTimeString()],
      [end],
      ['Device', 'Stream id', 'Since'],
    );
  });
  $('streams').tBodies[0].replaceChildren(...rows);
  $('streams').hidden = rows.length === 0;
}

// --- drawing --------------------------------------------------------------------------------------------------

function setState(entry, state, words) {
  entry.state = state;
  entry.words = words;
  drawOpened();
}

function drawOpened() {
  const rows = opened.map((entry) => {
    const actions = [];
    if (entry.state === 'playing') {
      const beat = button('Heartbeat', () => heartbeat(entry));
      beat.setAttribute('aria-label', `Send a heartbeat on ${entry.streamId}`);
      const close = button('Close', () => closeStream(entry));
      close.setAttribute('aria-label', `Close ${entry.streamId}`);
      actions.push(beat, close);
    } else if (entry.state !== 'connecting') {
      const again = button('Open again', () => openStream(entry.streamId, entry.device));
      again.setAttribute('aria-label', `Open ${entry.streamId} again on ${entry.device}`);
      actions.push(again);
    }
    const tr = row([entry.streamId, entry.device, entry.words], actions, ['Stream id', 'Device', 'State']);
    tr.cells[2].className = `state-${entry.state}`;
    tr.dataset.streamId = entry.streamId;
    return tr;
  });
  $('sockets').tBodies[0].replaceChildren(...rows);
  $('sockets').hidden = rows.length === 0;
  $('sockets-empty').hidden = rows.length > 0;
}

/**
 * Table cells from text only (never HTML): device names come from users. Each cell carries its column's name, which
 * a narrow screen shows beside the value when the rows become cards.
 */
function row(texts, buttons, labels) {
  const tr = document.createElement('tr');
  texts.forEach((text, i) => {
    const cell = tr.insertCell();
    cell.textContent = text;
    cell.dataset.label = labels[i];
  });
  // One box for the buttons, so that on a card they sit together beside their label.
  const actions = tr.insertCell();
  actions.dataset.label = 'Actions';
  const box = document.createElement('span');
  box.append(...buttons);
  actions.append(box);
  return tr;
}

function button(label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

function notify(text, kind) {
  $('notice').textContent = text;
  $('notice').className = kind;
  $('notice').hidden = false;
}

function log(streamId, text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${streamId}: ${text}`;
  $('log').prepend(li);
  while ($('log').children.length > LOG_LINES) $('log').lastElementChild.remove();
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The hosted sign-in's state: who is signed in (the ID token's user name or sub), and the buttons that fit. */
function drawSession() {
  const signedIn = session.token();
  let who = '';
  try {
    const claims = JSON.parse(atob(signedIn.split('.')[1].replaceAll('-', '+').replaceAll('_', '/')));
    who = claims['cognito:username'] ?? claims.email ?? claims.sub ?? '';
  } catch {
    who = '';
  }
  $('signed-in-as').textContent = signedIn ? `Signed in${who ? ` as ${who}` : ''}.` : 'Not signed in.';
  $('hosted-sign-in').hidden = Boolean(signedIn);
  $('hosted-sign-out').hidden = !signedIn;
}

async function main() {
  config = await (await fetch('config.json')).json();
  session = createSignIn(config.signIn, TOKEN_KEY);
  const field = config.authMode !== 'jwt' ? 'user-id-field' : session.hosted ? 'hosted-field' : 'token-field';
  $(field).hidden = false;
  if (session.hosted) {
    $('hosted-sign-in').addEventListener('click', () => void session.start());
    $('hosted-sign-out').addEventListener('click', () => session.signOut());
    try {
      await session.finish();
    } catch (error) {
      notify(`Sign-in did not work: ${error.message}. Try again.`, 'refused');
    }
    drawSession();
  }
  $('open-form').addEventListener('submit', openFromForm);
  $('refresh').addEventListener('click', () => void refreshStreams());
  // Only once a stream was opened here (so the identity is filled in), and only while someone looks.
  setInterval(() => {
    if (opened.length > 0 && !document.hidden) void refreshStreams();
  }, REFRESH_MS);
}

void main();
