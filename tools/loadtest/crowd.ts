/** The virtual users: who holds which streams, who broke the limit, and where each one's streams connect. */
import type { LoadOptions } from './options.js';

/** One virtual user and the streams it holds right now: open sockets per stream id. */
export class Player {
  /** more than one socket for a stream only while a takeover replaces one */
  readonly streams = new Map<string, number>();
  /** stream ids this player has been admitted for (to count reconnects) */
  readonly seen = new Set<string>();
  private slots = 0;
  constructor(
    readonly index: number,
    readonly id: string,
  ) {}
  get held() {
    return this.streams.size;
  }
  /** The stream id of this player's next slot (closed model, and the settle phase). */
  nextSlotStream = () => `${this.id}-s${this.slots++}`;
}

/**
 * All players, and what the verdict needs: their share, the most held, who broke the limit. A user holds a stream
 * while at least one socket for its id is open, so a takeover (new socket first, old one closed by the server) is not
 * an extra stream; more distinct streams than the limit is a violation, exactly.
 */
export class Crowd {
  readonly players: Player[];
  readonly share: number;
  maxHeld = 0;
  total = 0;
  readonly violators = new Set<number>();

  constructor(
    private readonly options: LoadOptions,
    private readonly onHeld: (total: number) => void,
  ) {
    this.share = Math.min(options.streamsPerUser, options.limit);
    this.players = Array.from({ length: options.users }, (_, i) => new Player(i, `${options.userPrefix}-${i}`));
  }

  gained(player: Player, streamId: string) {
    const sockets = player.streams.get(streamId) ?? 0;
    player.streams.set(streamId, sockets + 1);
    if (sockets > 0) return;
    this.total++;
    this.onHeld(this.total);
    this.maxHeld = Math.max(this.maxHeld, player.held);
    if (player.held > this.options.limit) this.violators.add(player.index);
  }

  lost(player: Player, streamId: string) {
    const sockets = player.streams.get(streamId) ?? 0;
    if (sockets > 1) {
      player.streams.set(streamId, sockets - 1);
      return;
    }
    player.streams.delete(streamId);
    this.total--;
    this.onHeld(this.total);
  }

  settled = () => this.players.every((p) => p.held >= this.share);
  lockedOut = () => this.players.filter((p) => p.held < this.share).length;
}

/** Where a player's stream connects: its identity (user id or token) and the stream id. */
export class Addresses {
  private streamSeq = 0;
  constructor(private readonly options: LoadOptions) {}

  /** A stream id for a new stream; without reuse, every handshake gets a fresh one. */
  fresh = (player: Player) => `${player.id}-r${this.streamSeq++}`;

  for(player: Player, streamId: string): string {
    const { tokens, tokenTemplate } = this.options;
    const url = new URL(this.options.url);
    if (tokens) url.searchParams.set('token', tokens[player.index % tokens.length]!);
    else if (tokenTemplate) {
      url.searchParams.set(
        'token',
        tokenTemplate.replaceAll('{user}', player.id).replaceAll('{i}', String(player.index)),
      );
    } else url.searchParams.set('userId', player.id);
    url.searchParams.set('streamId', this.options.reuseStreams ? streamId : this.fresh(player));
    url.searchParams.set('device', 'loadtest');
    return url.toString();
  }
}
