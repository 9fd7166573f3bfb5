/**
 * The video.js page: one `<video>` played through video.js, and streamgate's video.js adapter (`limitPlayer`, built
 * from client/videojs.ts) deciding when it may play. Identity and device come from the form, or the page's query
 * (`?userId=&device=&streamId=` starts at once).
 */
import { limitPlayer } from './streamgate-videojs.js';

const $ = (id) => document.getElementById(id);

async function main() {
  const config = await (await fetch('config.json')).json();
  $(config.authMode === 'jwt' ? 'token-field' : 'user-id-field').hidden = false;
  const player = window.videojs('video');
  let playback;

  const watch = () => {
    playback?.dispose();
    const identity =
      config.authMode === 'jwt' ? { token: $('token').value.trim() } : { userId: $('user-id').value.trim() };
    playback = limitPlayer(
      player,
      {
        url: config.wsUrl,
        playerApi: config.apiUrl,
        ...identity,
        device: $('device').value.trim() || 'Browser',
        streamId: $('stream-id').value.trim() || undefined,
      },
      { onState: (state, detail) => ($('state').textContent = `${state}: ${detail}`) },
    );
    window.streamgatePlayback = playback; // for the browser test and the curious: state, stream.connectionId
  };

  $('watch-form').addEventListener('submit', (event) => {
    event.preventDefault();
    watch();
  });
  const query = new URLSearchParams(location.search);
  for (const [param, field] of [
    ['userId', 'user-id'],
    ['token', 'token'],
    ['device', 'device'],
    ['streamId', 'stream-id'],
  ])
    if (query.has(param)) $(field).value = query.get(param);
  if (query.has('userId') || query.has('token')) watch();
}

void main();
