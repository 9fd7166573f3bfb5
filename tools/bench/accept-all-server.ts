/** A WebSocket server that accepts everything and does nothing: the load tester's own ceiling is measured against it. */
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 4096 });
wss.on('connection', (socket) => socket.on('error', () => {}));
wss.on('listening', () => {
  const { port } = wss.address() as { port: number };
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
