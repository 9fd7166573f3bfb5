// The support console: plain DOM and fetch, no framework (one page, a few forms, tables and uPlot charts; nothing to build).
// It talks to the support API only, with the staff token as `Authorization: Bearer ...`: pasted in, or from Cognito's
// hosted sign-in when the deployment's config.json says so (sign-in.js).
// Everything from the API reaches the page through textContent, never as HTML.

import { ApiError, callApi, enc } from './api.js';
import { createSignIn } from './sign-in.js';
import { drawSignals } from './signals.js';
import { drawHistory, drawStreams } from './tables.js';
import { fitCharts, readOverview, readUserUsage, userUsageLoading } from './usage.js';

const TOKEN_KEY = 'streamgate.console.token';
const REFRESH_MS = 3000;
/** Usage is counted per hour by the events processor: re-reading it with every 3 s refresh would only add load. */
const USAGE_REFRESH_MS = 60_000;
const USER_ID = /^[A-Za-z0-9._\-:@]{1,128}$/;

const $ = (id) => document.getElementById(id);

/** How the person signs in (config.json `signIn`): a pasted token unless the deployment names Cognito. */
let session = createSignIn(undefined, TOKEN_KEY);

const state = {
  apiUrl: '',
  userId: null,
  timer: null,
  refreshing: false,
  /** when the looked-up user's last 7 days were last read */
  usageReadAt: 0,
  /** connection ids being ended: their rows stay greyed until the API no longer lists them */
  ending: new Set(),
};

/** The support API with this tab's token. */
const api = (method, path, body) => callApi(state.apiUrl, sessionStorage.getItem(TOKEN_KEY), method, path, body);

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
  $('signals').hidden = !signedIn;
  $('views').hidden = !signedIn;
  if (!signedIn) $('user').hidden = true;
  showView();
  if (signedIn) void loadSignals();
}

// ---------------------------------------------------------------- views: users, or the service overview

const onOverview = () => location.hash === '#overview';

/** The view the address names (`#overview`, else the users), so a link or a reload lands where it points. */
function showView() {
  const signedIn = !$('views').hidden;
  const overview = onOverview();
  $('users-view').hidden = overview;
  $('overview').hidden = !signedIn || !overview;
  for (const [id, current] of [
    ['nav-users', !overview],
    ['nav-overview', overview],
  ]) {
    if (current) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
  if (signedIn && overview) void loadOverview();
  else fitCharts();
}

const loadOverview = () => readOverview({ api, fail });

/** The looked-up user's last 7 days, if they are still the one looked up once it is read. */
function loadUserUsage() {
  state.usageReadAt = Date.now();
  return readUserUsage({ api, fail }, state.userId, () => state.userId);
}

/** Today's sharing signals; a user's button looks them up. */
async function loadSignals() {
  try {
    const { signals } = await api('GET', '/signals');
    drawSignals(signals, {
      onLookUp: (userId) => {
        $('user-id').value = userId;
        void lookUp({ preventDefault() {} });
      },
    });
  } catch (error) {
    fail(error);
  }
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
  userUsageLoading();
  const ok = await refresh({ history: true });
  if (ok) {
    $('user').hidden = false;
    startRefresh();
    // Drawn once the section shows: the chart takes its width from it.
    await loadUserUsage();
  }
}

function startRefresh() {
  stopRefresh();
  state.timer = setInterval(() => {
    if (document.hidden || onOverview()) return;
    void refresh({ history: true });
    if (Date.now() - state.usageReadAt >= USAGE_REFRESH_MS) void loadUserUsage();
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
    // Whose policy it is matters: a staff override stays until someone clears it.
    const overridden = typeof view.policyOverride === 'string';
    $('fact-policy').textContent = `${view.policy} (${overridden ? 'staff override' : "the service's"})`;
    $('clear-policy').disabled = !overridden;
    if (document.activeElement !== $('policy')) $('policy').value = view.policy;
  }
  const drift = view.drift ?? 0;
  $('fact-drift-row').hidden = drift === 0;
  $('fact-drift').textContent = drift === 0 ? '' : `${drift > 0 ? '+' : ''}${drift} (counter vs live streams)`;
  if ($('limit').value === '' && document.activeElement !== $('limit')) $('limit').value = String(view.limit);
  drawStreams(view.connections, { userId: state.userId, ending: state.ending, onEnd: confirmEnd });
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

async function clearPolicy() {
  await act(() => api('DELETE', `/users/${enc(state.userId)}/policy`), "Back to the service's policy.");
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
  $('clear-policy').addEventListener('click', () => void clearPolicy());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.userId) void refresh({ history: true });
  });
  $('hosted-sign-in').addEventListener('click', () => void session.start());
  $('refresh-signals').addEventListener('click', () => void loadSignals());
  $('refresh-overview').addEventListener('click', () => void loadOverview());
  addEventListener('hashchange', showView);
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
