/**
 * The video.js adapter: a player plays only while streamgate admits it. Playback starts once the stream is admitted,
 * pauses and says why when it ends, and on a refusal lists the devices holding the slots, each with an End button
 * that frees one (the player API) and tries again. Reconnects and renewals go on under the video without a pause.
 * video.js itself is the page's (`videojs(...)`); this file only takes a player.
 */
import { endStream, openStream } from './index.js';
import type { Holder, Refusal, Stream, StreamOptions } from './types.js';
import { endedWords } from './words.js';

/** The part of a video.js player the adapter uses. */
export interface VideoJsPlayer {
  play(): Promise<void> | undefined;
  pause(): void;
  el(): HTMLElement;
  on(event: string, handler: () => void): void;
  off(event: string, handler: () => void): void;
}

export type PlaybackState = 'connecting' | 'playing' | 'refused' | 'ended' | 'closed';

export interface LimitedPlayback {
  readonly state: PlaybackState;
  readonly stream: Stream;
  /** tries again with the same streamId (after a refusal, or an end) */
  retry(): void;
  /** closes the stream (the slot is freed) and removes the overlay */
  dispose(): void;
}

export interface LimitOptions {
  /** told of every change, for the page's own display */
  onState?: (state: PlaybackState, detail: string) => void;
}

/** Streams `player` under the user's limit with `options` (as `openStream` takes them; the streamId is kept). */
export function limitPlayer(
  player: VideoJsPlayer,
  options: StreamOptions,
  { onState }: LimitOptions = {},
): LimitedPlayback {
  const overlay = document.createElement('div');
  overlay.className = 'streamgate-overlay';
  overlay.setAttribute('role', 'status');
  player.el().append(overlay);
  let state: PlaybackState = 'connecting';
  let stream: Stream;

  const show = (next: PlaybackState, detail: string, extra: HTMLElement[] = []) => {
    state = next;
    const text = document.createElement('p');
    text.textContent = detail;
    overlay.replaceChildren(text, ...extra);
    overlay.hidden = next === 'playing';
    overlay.dataset.state = next;
    onState?.(next, detail);
  };

  // Nothing plays until the stream is admitted: a viewer's play, or autoplay, is undone until then.
  const holdUntilAdmitted = () => {
    if (state !== 'playing') player.pause();
  };
  player.on('play', holdUntilAdmitted);

  const start = () => {
    show('connecting', 'Checking your screens…');
    stream = openStream(options);
    options = { ...options, streamId: stream.streamId };
    stream.on('admitted', () => {
      show('playing', 'playing');
      // Muted autoplay is allowed everywhere; with sound a browser may want a click first (the play button).
      player.play()?.catch(() => undefined);
    });
    stream.on('renewed', () => show('playing', 'playing'));
    stream.on('reconnecting', ({ cause }) => {
      // The video keeps playing from its buffer meanwhile: the slot is being taken back, not lost.
      if (state === 'playing') onState?.('playing', `reconnecting (${cause})`);
    });
    stream.on('ended', ({ reason, device }) => {
      player.pause();
      show('ended', `Stopped: ${endedWords(reason, device)}.`, [button('Watch here again', start)]);
    });
    stream.on('refused', (refusal) => {
      player.pause();
      show('refused', refusalWords(refusal), [...holderList(refusal.streams ?? []), button('Try again', start)]);
    });
  };

  /** One row per device holding a slot, with its End button: ends that stream, then tries again here. */
  const holderList = (holders: Holder[]) =>
    holders.map((h) => {
      const row = document.createElement('p');
      row.className = 'streamgate-holder';
      row.textContent = `${h.device ?? 'unnamed device'} (${h.streamId ?? 'no stream id'}) since ${new Date(h.since).toLocaleTimeString()} `;
      const end = button('End', async () => {
        end.disabled = true;
        const answer = await endStream(options, h.streamId ?? '').catch(() => undefined);
        if (answer && (answer.ok || answer.status === 404)) start();
        else end.disabled = false;
      });
      end.setAttribute('aria-label', `End ${h.streamId ?? ''} on ${h.device ?? 'unnamed device'}`);
      // A stream opened without an id has no name the player API could end it by.
      end.disabled = h.streamId === null;
      row.append(end);
      return row;
    });

  // A closing tab closes its sockets with 1001, which the server holds for a reconnect that will never come: the
  // page's own end says so (close code 4000), and a page restored from the back-forward cache plays again.
  const onPageHide = () => stream.close();
  const onPageShow = (event: PageTransitionEvent) => {
    if (event.persisted) start();
  };
  addEventListener('pagehide', onPageHide);
  addEventListener('pageshow', onPageShow);

  start();
  return {
    get state() {
      return state;
    },
    get stream() {
      return stream;
    },
    retry: () => {
      stream.close();
      start();
    },
    dispose: () => {
      stream.close();
      removeEventListener('pagehide', onPageHide);
      removeEventListener('pageshow', onPageShow);
      player.off('play', holdUntilAdmitted);
      overlay.remove();
      state = 'closed';
    },
  };
}

function refusalWords(refusal: Refusal): string {
  if (refusal.status === 429 && refusal.limit !== undefined)
    return `You are already watching on ${refusal.active} of ${refusal.limit} screens. End one to watch here:`;
  if (refusal.status === 401) return 'You are not signed in (the token is missing, expired or not valid).';
  return `This stream cannot play: ${refusal.message}.`;
}

function button(label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

export { endedWords, endStream, listStreams, openStream, policyWords } from './index.js';
