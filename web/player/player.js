/**
 * A demo player for streamgate, and an example for player developers, built on the player SDK (`streamgate.js`, the
 * bundle of client/ that the stack serves beside this page): one SDK stream per stream the viewer opens, and the
 * player API (`GET /me/streams`, `DELETE /me/streams/{streamId}`) to list the user's streams and make room.
 *
 * The SDK does the protocol: heartbeats at the lease's cadence, reconnects, renewal before API Gateway's 2-hour cap,
 * and a refusal explained by the player API (a browser cannot read a refused handshake). This page only draws it.
 */

import { createSignIn } from './sign-in.js';
import { endedWords, endStream as endOwnStream, listStreams, openStream, policyWords } from './streamgate.js';

const TOKEN_KEY = 'streamgate.player.token';
/** The list of streams is read again this often: other devices come and go, and a closed socket's release lags. */
const REFRESH_MS = 3_000;
const LOG_LINES = 50;

const $ = (id) => document.getElementById(id);

/** `{wsUrl, apiUrl, authMode, signIn?}`, written by the local stack or the deployment. */
let config;
/** jwt mode: a pasted token, or Cognito's hosted sign-in when config.json names it (sign-in.js). */
let session;
/** the streams this page opened, in order: {streamId, device, stream (the SDK's), state, words} */
const opened = [];
let streamCounter = 0;

// --- who is watching --------------------------------------------------------------------------------------------

/** jwt mode: the token of the signed-in player, or the one pasted in. */
function token() {
  return session.hosted ? (session.token() ?? '') : $('token').value.trim();
}

/** Who the SDK and the player API say is watching: `userId` in dev mode, the token in jwt mode. */
function identity() {
  return config.authMode === 'jwt' ? { token: token() } : { userId: $('user-id').value.trim() };
}

/** The SDK's player API options: the page's own origin locally (`apiUrl` is ''), the player API's URL in AWS. */
const apiOptions = () => ({ playerApi: config.apiUrl, ...identity() });

// --- opening and closing streams ------------------------------------------------------------------------------

function openFromForm(event) {
  event.preventDefault();
  const streamId = $('stream-id').value.trim() || `stream-${++streamCounter}`;
  const device = $('device').value.trim() || 'Browser';
  $('stream-id').value = '';
  watch(streamId, device);
}

/**
 * Opens a stream with the SDK. A row of this page for the same stream id that is no longer playing (refused, ended,
 * closed) is reused, so a stream tried again shows once, with how its last try went.
 */
function watch(streamId, device) {
  let entry = opened.find((e) => e.streamId === streamId && ['refused', 'ended', 'closed'].includes(e.state));
  if (!entry) {
    entry = { streamId };
    opened.push(entry);
  }
  const stream = openStream({ url: config.wsUrl, ...apiOptions(), streamId, device });
  Object.assign(entry, { device, stream, state: 'connecting', words: 'connecting…' });
  drawOpened();
  listen(entry, stream);
}

function listen(entry, stream) {
  // A stream this row no longer holds (the row was opened again) has nothing more to say.
  const mine = (handler) => (payload) => entry.stream === stream && handler(payload);
  stream.on(
    'admitted',
    mine(() => {
      setState(entry, 'playing', 'playing');
      void refreshStreams();
    }),
  );
  stream.on(
    'frame',
    mine((frame) => log(entry.streamId, frameWords(frame))),
  );
  stream.on(
    'renewed',
    mine(({ connectionId }) => {
      log(entry.streamId, `renewed before the 2-hour cap: same stream on connection ${connectionId}`);
      setState(entry, 'playing', 'playing');
    }),
  );
  stream.on(
    'reconnecting',
    mine(({ cause, delayMs }) => setState(entry, 'reconnecting', `reconnecting in ${delayMs} ms (${cause})`)),
  );
  stream.on(
    'ended',
    mine(({ reason, device }) => {
      setState(entry, 'ended', endedWords(reason, device));
      void refreshStreams();
    }),
  );
  stream.on(
    'refused',
    mine((refusal) => void explainRefusal(entry, refusal)),
  );
}

/** A frame from the server in words (the raw text when it is not one the page knows). */
function frameWords(frame) {
  if (frame.type === 'ended') return `ended: ${endedWords(frame.reason, frame.device)}`;
  if (frame.type === 'heartbeat')
    return `heartbeat answered: lease until ${new Date(frame.leaseExpiresAt).toLocaleTimeString()}`;
  if (frame.type === 'status') return `status: ${frame.active} of ${frame.limit} streams in use`;
  if (frame.type === 'error') return `error ${frame.code}: ${frame.message}`;
  // API Gateway's own frames (a throttled message), which the service never saw.
  if (typeof frame.message === 'string' && frame.type === undefined) return `from API Gateway: ${frame.message}`;
  return JSON.stringify(frame);
}

/** The SDK's refusal (it asked the player API which devices hold the slots), in words. */
async function explainRefusal(entry, refusal) {
  let words;
  if (refusal.status === 401) words = 'Refused: you are not signed in (the token is missing, expired or not valid).';
  else if (refusal.status === 429 && refusal.streams) {
    const devices = refusal.streams.map((s) => `${s.device ?? 'unnamed device'} (${s.streamId ?? 'no stream id'})`);
    words =
      `Refused: you are already watching on ${refusal.active} of ${refusal.limit} screens: ${devices.join(', ')}. ` +
      'End one of them below to watch here.';
  } else words = `Refused: ${refusal.message}.`;
  // The list first, so that the refusal shows beside the streams that explain it.
  if (refusal.status === 401) $('summary').textContent = 'Not signed in.';
  else await refreshStreams();
  setState(entry, 'refused', words);
  notify(`${entry.streamId} on ${entry.device}: ${words}`, 'refused');
}

function closeStream(entry) {
  setState(entry, 'closed', 'closed by you');
  entry.stream.close();
  void refreshStreams();
}

// --- the user's streams on every device (player API) ----------------------------------------------------------

async function refreshStreams() {
  const answer = await listStreams(apiOptions()).catch(() => ({ ok: false, status: 0 }));
  if (answer.ok) render(answer.body);
  else $('summary').textContent = answer.status === 401 ? 'Not signed in.' : 'The player API cannot answer right now.';
}

async function endStream(streamId) {
  const { status } = await endOwnStream(apiOptions(), streamId).catch(() => ({}));
  if (status === 204) notify(`Ended ${streamId}: its slot is free.`, 'ok');
  else if (status === 404) notify(`${streamId} had already ended.`, 'ok');
  else notify(`Could not end ${streamId} (status ${status ?? 'none'}): try again.`, 'refused');
  await refreshStreams();
}

function render(view) {
  const policy = policyWords(view.policy);
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
      const beat = button('Heartbeat', () => entry.stream.heartbeat());
      beat.setAttribute('aria-label', `Send a heartbeat on ${entry.streamId}`);
      const close = button('Close', () => closeStream(entry));
      close.setAttribute('aria-label', `Close ${entry.streamId}`);
      actions.push(beat, close);
    } else if (entry.state === 'reconnecting') {
      const close = button('Close', () => closeStream(entry));
      close.setAttribute('aria-label', `Close ${entry.streamId}`);
      actions.push(close);
    } else if (entry.state !== 'connecting') {
      const again = button('Open again', () => watch(entry.streamId, entry.device));
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
