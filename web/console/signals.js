// Today's sharing signals (GET /signals): accounts that looked shared, listed for staff, never blocked. Everything
// reaches the page through textContent, never as HTML.

const $ = (id) => document.getElementById(id);

const WHY = {
  networks: 'streams from several networks at once',
  refusals: 'refused at the limit again and again',
};

function cell(label, content) {
  const td = document.createElement('td');
  td.dataset.label = label;
  if (typeof content === 'string') td.textContent = content;
  else td.append(content);
  return td;
}

/** The signals; `onLookUp(userId)`: what a user's button does (the console looks them up). */
export function drawSignals(signals, { onLookUp }) {
  $('signals-empty').hidden = signals.length > 0;
  $('signals-table').hidden = signals.length === 0;
  $('signals-table').tBodies[0].replaceChildren(
    ...signals.map((s) => {
      const tr = document.createElement('tr');
      const user = document.createElement('button');
      user.type = 'button';
      user.className = 'link mono';
      user.textContent = s.userId;
      user.addEventListener('click', () => onLookUp(s.userId));
      tr.append(
        cell('User', user),
        cell('Why', WHY[s.reason] ?? s.reason),
        cell('Seen', `${s.seen} (more than ${s.threshold})`),
        cell('Networks', (s.networks ?? []).join(', ') || '—'),
        cell('When', new Date(s.at).toLocaleTimeString()),
      );
      return tr;
    }),
  );
}
