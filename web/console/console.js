// The support console: plain DOM and fetch, no framework (one page, a few forms and two tables; nothing to build).
// It talks to the support API only, with the staff token as `Authorization: Bearer ...`: pasted in, or from Cognito's
// hosted sign-in when the deployment's config.json says so (sign-in.js).
// Everything from the API reaches the page through textContent, never as HTML.

import { createSignIn } from './sign-in.js';

const TOKEN_KEY = 'streamgate.console.token';
const REFRESH_MS = 3000;
const USER_ID = /^[A-Za-z0-9._\-:@]{1,128}$/;

const $ = (id) => document.getElementById(id);

/** How the person signs in (config.json `signIn`): a pasted token unless the deployment names Cognito. */
let session = createSignIn(undefined, TOKEN_KEY);

const state = {
  apiUrl: '',
  userId: null,
  timer: null,
  refreshing: false,
  /** connection ids being ended: their rows stay greyed until the API no longer lists them */
  ending: new Set(),
};

/** A refusal or failure of the support API, with what a person should read. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---------------------------------------------------------------- the API

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  let res;
  try {
    res = await fetch(`${state.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token ?? ''}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach the support API. Check your connection; retrying.');
  }
  if (res.status === 204) return null;
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    payload = null;
  }
  if (res.ok) return payload;
  const code = payload?.error?.code ?? `HTTP_${res.status}`;
  const detail = payload?.error?.message ?? payload?.message ?? '';
  throw new ApiError(res.status, code, explain(res.status, detail));
}

/** What each refusal means for the person at the desk. */
function explain(status, detail) {
  switch (status) {
    case 401:
      return 'Your sign-in was not accepted: the token is missing, wrong or expired. Sign in again.';
    case 403:
      return 'This token is valid but is not a staff token: ask for support access, then sign in again.';
    case 404:
      return detail ? `Not found: ${detail}.` : 'Not found.';
    case 400:
      return detail ? `Not accepted: ${detail}.` : 'The request was not accepted.';
    case 429:
      return 'Too many requests: wait a moment and try again.';
    case 503:
      return 'The service is unavailable right now (its database does not answer). Retrying every few seconds.';
    default:
      return status >= 500
        ? `The service failed (${status}). Try again in a moment.`
        : `Unexpected answer ${status}${detail ? `: ${detail}` : ''}.`;
  }
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- messages

function notify(text, kind = 'error') {
  const box = $('notice');
  box.textContent = text;
  box.classList.toggle('ok', kind === 'ok');
  box.setAttribute('role', kind === 'ok' ? 'status' : 'alert');
  box.hidden = false;
}

function clearNotice() {
  $('notice').hidden = true;
  $('notice').textContent = '';
}

/** Shows an API failure; a refused token ends the session. */
function fail(error) {
  if (!(error instanceof ApiError)) {
    notify(`Something went wrong in the console: ${error?.message ?? error}`);
    return;
  }
  if (error.status === 401 || error.status === 403) {
    // The token is no good here: back to the sign-in (the Cognito session stays, so signing in again is one click).
    sessionStorage.removeItem(TOKEN_KEY);
    stopRefresh();
    state.userId = null;
    showSignedIn(false);
  }
  notify(error.message);
}

// ---------------------------------------------------------------- session

function showSignedIn(signedIn) {
  $('sign-in').hidden = signedIn;
  $('lookup').hidden = !signedIn;
  $('session').hidden = !signedIn;
  if (!signedIn) $('user').hidden = true;
}

function signOut() {
  stopRefresh();
  state.userId = null;
  showSignedIn(false);
  $('token').value = '';
  // With the hosted sign-in this also ends the Cognito session, and the page comes back signed out.
  session.signOut();
  if (!session.hosted) $('token').focus();
}

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  if (!token) {
    notify('Paste your staff token first.');
    $('token').focus();
    return;
  }
  session.keep(token);
  if (await checkToken()) $('token').value = '';
}

/** Whether the support API takes the token kept for this tab as a staff token; shows the console if so. */
async function checkToken() {
  try {
    // Any staff route answers 401/403 for a bad token; reading a history writes nothing.
    await api('GET', `/users/${enc('console-sign-in-check')}/audit`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      sessionStorage.removeItem(TOKEN_KEY);
      notify(error.message);
      if (!session.hosted) $('token').focus();
      return false;
    }
    fail(error);
    return false;
  }
  clearNotice();
  showSignedIn(true);
  $('user-id').focus();
  return true;
}

// ---------------------------------------------------------------- looking a user up

async function lookUp(event) {
  event.preventDefault();
  const userId = $('user-id').value.trim();
  if (!USER_ID.test(userId)) {
    notify('A user id is 1 to 128 of A–Z a–z 0–9 . _ - : @ (no spaces).');
    $('user-id').focus();
    return;
  }
  clearNotice();
  stopRefresh();
  state.userId = userId;
  state.ending.clear();
  $('user-name').textContent = userId;
  $('limit').value = '';
  const ok = await refresh({ history: true });
  if (ok) {
    $('user').hidden = false;
    startRefresh();
  }
}

function startRefresh() {
  stopRefresh();
  state.timer = setInterval(() => {
    if (!document.hidden) void refresh({ history: true });
  }, REFRESH_MS);
}

function stopRefresh() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

/** Reads the user's streams (and history) and redraws; returns whether it worked. */
async function refresh({ history }) {
  const userId = state.userId;
  if (!userId || state.refreshing) return false;
  state.refreshing = true;
  try {
    const [view, trail] = await Promise.all([
      api('GET', `/users/${enc(userId)}/connections`),
      history ? api('GET', `/users/${enc(userId)}/audit`) : Promise.resolve(null),
    ]);
    if (userId !== state.userId) return false; // another user was looked up meanwhile
    drawUser(view);
    if (trail) drawHistory(trail.entries);
    $('refreshed').textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    if ($('notice').dataset.transient === 'yes') clearNotice();
    return true;
  } catch (error) {
    fail(error);
    // A passing outage clears itself on the next good refresh; other messages stay until the person acts.
    $('notice').dataset.transient =
      error instanceof ApiError && (error.status === 503 || error.status === 0) ? 'yes' : '';
    return false;
  } finally {
    state.refreshing = false;
  }
}

function drawUser(view) {
  $('fact-limit').textContent = String(view.limit);
  const override = view.limitOverride;
  $('fact-override').textContent = override === undefined ? '—' : override === null ? 'none' : String(override);
  $('fact-active').textContent = String(view.active);
  const hasPolicy = typeof view.policy === 'string';
  $('fact-policy-row').hidden = !hasPolicy;
  $('policy-form').hidden = !hasPolicy;
  if (hasPolicy) {
    $('fact-policy').textContent = view.policy;
    if (document.activeElement !== $('policy')) $('policy').value = view.policy;
  }
  const drift = view.drift ?? 0;
  $('fact-drift-row').hidden = drift === 0;
  $('fact-drift').textContent = drift === 0 ? '' : `${drift > 0 ? '+' : ''}${drift} (counter vs live streams)`;
  if ($('limit').value === '' && document.activeElement !== $('limit')) $('limit').value = String(view.limit);
  drawStreams(view.connections);
}

const since = (iso) => {
  const at = new Date(iso);
  const s = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000));
  const ago = s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ago`;
  return { text: `${at.toLocaleTimeString()} (${ago})`, title: at.toISOString() };
};

function cell(label, text, { mono = false, title } = {}) {
  const td = document.createElement('td');
  td.dataset.label = label;
  td.textContent = text;
  if (mono) td.className = 'mono';
  if (title) td.title = title;
  return td;
}

function drawStreams(connections) {
  const body = $('streams').tBodies[0];
  const live = new Set(connections.map((c) => c.connectionId));
  for (const id of state.ending) if (!live.has(id)) state.ending.delete(id);
  // Keep focus on the same row's button across redraws, so a keyboard user is not thrown back to the top.
  const focused = document.activeElement?.dataset?.connectionId;
  body.replaceChildren(
    ...connections.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.connectionId = c.connectionId;
      const started = since(c.connectedAt);
      const seen = since(c.lastSeenAt);
      tr.append(
        cell('Device', c.device ?? '(no label)'),
        cell('Stream id', c.streamId ?? '(none)', { mono: true }),
        cell('Since', started.text, { title: started.title }),
        cell('Last seen', seen.text, { title: seen.title }),
        cell('Source IP', c.sourceIp ?? '—', { mono: true }),
      );
      const action = document.createElement('td');
      action.dataset.label = 'Action';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'danger small';
      button.dataset.connectionId = c.connectionId;
      const ending = state.ending.has(c.connectionId);
      button.textContent = ending ? 'Ending…' : 'End';
      button.disabled = ending;
      button.setAttribute(
        'aria-label',
        `End stream ${c.streamId ?? c.connectionId} on ${c.device ?? 'unlabelled device'}`,
      );
      button.addEventListener('click', () => void confirmEnd(c));
      action.append(button);
      tr.append(action);
      if (ending) tr.classList.add('ending');
      return tr;
    }),
  );
  if (focused) body.querySelector(`button[data-connection-id="${CSS.escape(focused)}"]`)?.focus();
  $('streams').hidden = connections.length === 0;
  $('streams-empty').hidden = connections.length !== 0;
  $('streams-empty').textContent =
    state.userId && connections.length === 0
      ? `No live streams for ${state.userId} right now (a user who never connected looks the same).`
      : '';
}

const ACTIONS = {
  endConnection: 'Ended a stream',
  setLimit: 'Set the limit',
  clearLimit: 'Back to the default limit',
  setPolicy: 'Set the policy',
};

function describe(detail) {
  return Object.entries(detail ?? {})
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

function drawHistory(entries) {
  const body = $('history').tBodies[0];
  body.replaceChildren(
    ...entries.map((e) => {
      const tr = document.createElement('tr');
      const at = new Date(e.at);
      tr.append(
        cell('When', at.toLocaleString(), { title: e.at }),
        cell('Staff', e.staff),
        cell('Action', ACTIONS[e.action] ?? e.action),
        cell('Detail', describe(e.detail) || '—'),
      );
      return tr;
    }),
  );
  $('history').hidden = entries.length === 0;
  $('history-empty').hidden = entries.length !== 0;
}

// ---------------------------------------------------------------- actions

function confirmEnd(c) {
  const dialog = $('confirm-end');
  $('confirm-text').textContent =
    `${state.userId}'s stream ${c.streamId ?? '(no stream id)'} on ${c.device ?? 'an unlabelled device'} ` +
    `(from ${c.sourceIp ?? 'unknown address'}) will stop at once. The viewer can start another one.`;
  dialog.returnValue = '';
  dialog.onclose = () => {
    if (dialog.returnValue === 'confirm') void endStream(c);
    else document.querySelector(`button[data-connection-id="${CSS.escape(c.connectionId)}"]`)?.focus();
  };
  dialog.showModal();
}

async function endStream(c) {
  state.ending.add(c.connectionId);
  await refreshSoon();
  try {
    await api('DELETE', `/connections/${enc(c.connectionId)}`);
    notify(`Ended ${c.streamId ?? 'the stream'} on ${c.device ?? 'an unlabelled device'}.`, 'ok');
  } catch (error) {
    state.ending.delete(c.connectionId);
    if (error instanceof ApiError && error.status === 404) notify('That stream had already ended.', 'ok');
    else fail(error);
  }
  await refreshSoon();
  $('user-id').focus();
}

async function setLimit(event) {
  event.preventDefault();
  const raw = $('limit').value.trim();
  const limit = Number(raw);
  if (raw === '' || !Number.isInteger(limit) || limit < 0 || limit > 100) {
    notify('The limit is a whole number from 0 to 100.');
    $('limit').focus();
    return;
  }
  await act(() => api('PUT', `/users/${enc(state.userId)}/limit`, { limit }), `Limit set to ${limit}.`);
}

async function clearLimit() {
  await act(() => api('DELETE', `/users/${enc(state.userId)}/limit`), 'Back to the default limit.');
  $('limit').value = '';
}

async function setPolicy(event) {
  event.preventDefault();
  const policy = $('policy').value;
  await act(() => api('PUT', `/users/${enc(state.userId)}/policy`, { policy }), `Policy set to ${policy}.`);
}

/** Runs one staff action, says how it went, and redraws the user with its history. */
async function act(run, done) {
  const buttons = [...document.querySelectorAll('#user form button')];
  for (const b of buttons) b.disabled = true;
  try {
    await run();
    notify(done, 'ok');
  } catch (error) {
    fail(error);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
  await refreshSoon();
}

/** A refresh now, waiting for one already running to finish first. */
async function refreshSoon() {
  while (state.refreshing) await new Promise((r) => setTimeout(r, 50));
  await refresh({ history: true });
}

// ---------------------------------------------------------------- start

async function loadConfig() {
  // config.json may name the API (empty: this page's own origin, as locally and deployed behind CloudFront) and
  // the sign-in (Cognito's hosted sign-in when deployed with identity=cognito; else a pasted token).
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (res.ok) {
      const config = await res.json();
      if (typeof config.apiUrl === 'string') state.apiUrl = config.apiUrl.replace(/\/+$/, '');
      session = createSignIn(config.signIn, TOKEN_KEY);
    }
  } catch {
    state.apiUrl = '';
  }
}

/** The sign-in form: a token field, or one button to Cognito's hosted sign-in. */
function showSignInKind() {
  $('token-fields').hidden = session.hosted;
  $('hosted-sign-in').hidden = !session.hosted;
}

async function main() {
  await loadConfig();
  $('sign-in-form').addEventListener('submit', (e) => void signIn(e));
  $('sign-out').addEventListener('click', () => {
    clearNotice();
    signOut();
  });
  $('lookup-form').addEventListener('submit', (e) => void lookUp(e));
  $('limit-form').addEventListener('submit', (e) => void setLimit(e));
  $('clear-limit').addEventListener('click', () => void clearLimit());
  $('policy-form').addEventListener('submit', (e) => void setPolicy(e));
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.userId) void refresh({ history: true });
  });
  $('hosted-sign-in').addEventListener('click', () => void session.start());
  showSignInKind();
  // Back from the hosted sign-in: trade the code for the token first.
  try {
    if (await session.finish()) {
      await checkToken();
      return;
    }
  } catch (error) {
    notify(`Sign-in did not work: ${error.message}. Try again.`);
  }
  const signedIn = session.token() !== null;
  showSignedIn(signedIn);
  if (signedIn) $('user-id').focus();
  else if (!session.hosted) $('token').focus();
}

void main();
