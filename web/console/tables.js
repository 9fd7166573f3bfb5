// The console's two tables, the user's live streams and the staff history, drawn from the API's answers. Everything
// reaches the page through textContent, never as HTML.

const $ = (id) => document.getElementById(id);

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

/**
 * The live streams. `ending`: connection ids being ended (their rows stay greyed until the API no longer lists them);
 * `onEnd(connection)`: the End button's action.
 */
export function drawStreams(connections, { userId, ending, onEnd }) {
  const body = $('streams').tBodies[0];
  const live = new Set(connections.map((c) => c.connectionId));
  for (const id of ending) if (!live.has(id)) ending.delete(id);
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
      const isEnding = ending.has(c.connectionId);
      button.textContent = isEnding ? 'Ending…' : 'End';
      button.disabled = isEnding;
      button.setAttribute(
        'aria-label',
        `End stream ${c.streamId ?? c.connectionId} on ${c.device ?? 'unlabelled device'}`,
      );
      button.addEventListener('click', () => onEnd(c));
      action.append(button);
      tr.append(action);
      if (isEnding) tr.classList.add('ending');
      return tr;
    }),
  );
  if (focused) body.querySelector(`button[data-connection-id="${CSS.escape(focused)}"]`)?.focus();
  $('streams').hidden = connections.length === 0;
  $('streams-empty').hidden = connections.length !== 0;
  $('streams-empty').textContent =
    userId && connections.length === 0
      ? `No live streams for ${userId} right now (a user who never connected looks the same).`
      : '';
}

const ACTIONS = {
  endConnection: 'Ended a stream',
  setLimit: 'Set the limit',
  clearLimit: 'Back to the default limit',
  setPolicy: 'Set the policy',
};

/** A cleared policy is written as `setPolicy` with no policy: say what it did. */
const actionWords = (e) =>
  e.action === 'setPolicy' && (e.detail?.policy ?? null) === null
    ? "Back to the service's policy"
    : (ACTIONS[e.action] ?? e.action);

function describe(detail) {
  return Object.entries(detail ?? {})
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

export function drawHistory(entries) {
  const body = $('history').tBodies[0];
  body.replaceChildren(
    ...entries.map((e) => {
      const tr = document.createElement('tr');
      const at = new Date(e.at);
      tr.append(
        cell('When', at.toLocaleString(), { title: e.at }),
        cell('Staff', e.staff),
        cell('Action', actionWords(e)),
        cell('Detail', describe(e.detail) || '—'),
      );
      return tr;
    }),
  );
  $('history').hidden = entries.length === 0;
  $('history-empty').hidden = entries.length !== 0;
}
