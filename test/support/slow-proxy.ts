/**
 * A TCP proxy in front of DynamoDB Local whose answers come back late, or never: a busy store and a hung one, for
 * tests of what the service says about them. Requests go through at once; every chunk of an answer waits `delayMs`
 * (`Infinity`: never sent). The delay can change while the proxy runs.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SlowProxy {
  url: string;
  /** how long each chunk of an answer is held, ms; Infinity holds it for good */
  delayMs: number;
  stop(): Promise<void>;
}

export async function startSlowProxy(upstream: string, delayMs = 0): Promise<SlowProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const proxy: SlowProxy = { url: '', delayMs, stop: async () => undefined };
  const server: Server = createServer((client) => {
    const store = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, store]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(store);
    store.on('data', (chunk) => {
      if (proxy.delayMs === Number.POSITIVE_INFINITY) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!client.destroyed) client.write(chunk);
      }, proxy.delayMs);
      timers.add(timer);
    });
    store.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.stop = async () => {
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
